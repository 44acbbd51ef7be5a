import { invalidParam } from "../http/errors";

/** Where a sync stands in each stream: room events (stream_ordering) and the shared account data/receipt/typing counter. */
export interface SyncPosition {
  events: number;
  shared: number;
}

/**
 * `s<events>_<shared>`. The `s<events>` prefix is a room pagination token (services/pagination.ts) naming the same
 * point in the event stream, so /messages accepts a next_batch as its `from`, as the spec allows.
 */
export function syncToken(position: SyncPosition): string {
  return `s${position.events}_${position.shared}`;
}

export function parseSyncToken(token: string): SyncPosition {
  const match = /^s(\d{1,15})_(\d{1,15})$/.exec(token);
  if (!match) throw invalidParam("Invalid since token");
  return { events: Number(match[1]), shared: Number(match[2]) };
}
