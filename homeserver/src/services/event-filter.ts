import { z } from "zod";
import { invalidParam } from "../http/errors";
import type { EventRow } from "../storage/events";

/** A RoomEventFilter (Client-Server API, "Filtering"), as used by /messages and /context. */
export const RoomEventFilter = z.object({
  limit: z.number().int().min(1).optional(),
  types: z.array(z.string()).optional(),
  not_types: z.array(z.string()).optional(),
  senders: z.array(z.string()).optional(),
  not_senders: z.array(z.string()).optional(),
  contains_url: z.boolean().optional(),
  lazy_load_members: z.boolean().optional(),
  include_redundant_members: z.boolean().optional(),
  unread_thread_notifications: z.boolean().optional(),
  rooms: z.array(z.string()).optional(),
  not_rooms: z.array(z.string()).optional(),
});
export type RoomEventFilter = z.infer<typeof RoomEventFilter>;

/** Parses the `filter` query parameter (inline JSON). */
export function parseFilterParam(raw: string | undefined): RoomEventFilter {
  if (raw === undefined || raw === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw invalidParam("filter is not valid JSON");
  }
  const result = RoomEventFilter.safeParse(json);
  if (!result.success) throw invalidParam(`Invalid filter: ${result.error.issues[0]!.message}`);
  return result.data;
}

/** Event type patterns may end in `*`, matching any suffix. */
function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith("*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

export function matchesFilter(filter: RoomEventFilter, row: EventRow): boolean {
  if (filter.types && !filter.types.some((p) => typeMatches(p, row.type))) return false;
  if (filter.not_types?.some((p) => typeMatches(p, row.type))) return false;
  if (filter.senders && !filter.senders.includes(row.sender)) return false;
  if (filter.not_senders?.includes(row.sender)) return false;
  if (filter.contains_url !== undefined) {
    const hasUrl = typeof (JSON.parse(row.pdu) as { content: Record<string, unknown> }).content["url"] === "string";
    if (hasUrl !== filter.contains_url) return false;
  }
  return true;
}
