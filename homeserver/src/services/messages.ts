import { forbidden, notFound } from "../http/errors";
import type { Requester } from "../http/types";
import type { ClientEvent } from "../rooms/client-event";
import { type EventRow, getCurrentStateRows, getEventRow, getStateRowsAt, getTimelineRows, maxStreamOrdering } from "../storage/events";
import { clientEvents } from "./client-events";
import { type RoomEventFilter, matchesFilter } from "./event-filter";
import { positionToken } from "./pagination";
import { canReadRoom, filterVisible } from "./visibility";

const MAX_SCAN_BATCHES = 5;

/** Refuses users who have never been in a room that is not world-readable. */
export async function assertCanRead(db: D1Database, roomId: string, userId: string): Promise<string | null> {
  const { membership, worldReadable } = await canReadRoom(db, roomId, userId);
  if (membership === null && !worldReadable) throw forbidden("You are not a member of this room");
  return membership;
}

/**
 * Reads up to `limit` events the user may see, scanning from `from` in direction `dir` (never past `to`), skipping
 * what the filter or history visibility hides. Returns the events and the position the scan stopped at.
 */
export async function scan(
  db: D1Database,
  roomId: string,
  userId: string,
  opts: { from: number; to: number | null; dir: "f" | "b"; limit: number; filter: RoomEventFilter },
): Promise<{ rows: EventRow[]; next: number | null }> {
  const found: EventRow[] = [];
  let position = opts.from;
  for (let batch = 0; batch < MAX_SCAN_BATCHES && found.length < opts.limit; batch++) {
    const want = opts.limit - found.length;
    const window =
      opts.dir === "b"
        ? { after: opts.to ?? 0, upTo: position, dir: "b" as const }
        : { after: position, upTo: opts.to ?? Number.MAX_SAFE_INTEGER, dir: "f" as const };
    const rows = await getTimelineRows(db, roomId, { ...window, limit: want * 2 });
    const visible = await filterVisible(db, roomId, userId, rows.filter((r) => matchesFilter(opts.filter, r)));
    let taken = 0;
    for (const row of rows) {
      if (found.length >= opts.limit) break;
      taken++;
      position = opts.dir === "b" ? row.stream_ordering - 1 : row.stream_ordering;
      if (visible.includes(row)) found.push(row);
    }
    if (rows.length < want * 2 && taken === rows.length) return { rows: found, next: null };
  }
  return { rows: found, next: position };
}

/** Member events of the senders of `events` (lazy-loading members, as Element asks for). */
async function lazyMembers(db: D1Database, roomId: string, events: ClientEvent[], at: number | null): Promise<EventRow[]> {
  const senders = new Set(events.map((e) => e.sender));
  const state = at === null ? await getCurrentStateRows(db, roomId) : await getStateRowsAt(db, roomId, at);
  return state.filter((r) => r.type === "m.room.member" && r.state_key !== null && senders.has(r.state_key));
}

/** GET /rooms/{roomId}/messages */
export async function roomMessages(
  db: D1Database,
  requester: Requester,
  roomId: string,
  opts: { from: number | null; to: number | null; dir: "f" | "b"; limit: number; filter: RoomEventFilter },
): Promise<{ chunk: ClientEvent[]; start: string; end?: string; state?: ClientEvent[] }> {
  await assertCanRead(db, roomId, requester.userId);
  const from = opts.from ?? (opts.dir === "b" ? await maxStreamOrdering(db) : 0);
  const { rows, next } = await scan(db, roomId, requester.userId, { ...opts, from });
  const chunk = await clientEvents(db, requester, rows);
  const response: { chunk: ClientEvent[]; start: string; end?: string; state?: ClientEvent[] } = { chunk, start: positionToken(from) };
  if (next !== null) response.end = positionToken(next);
  if (opts.filter.lazy_load_members) response.state = await clientEvents(db, requester, await lazyMembers(db, roomId, chunk, null));
  return response;
}

/** GET /rooms/{roomId}/context/{eventId} */
export async function eventContext(
  db: D1Database,
  requester: Requester,
  roomId: string,
  eventId: string,
  limit: number,
  filter: RoomEventFilter,
) {
  await assertCanRead(db, roomId, requester.userId);
  const row = await getEventRow(db, eventId);
  if (!row || row.room_id !== roomId || (await filterVisible(db, roomId, requester.userId, [row])).length === 0) {
    throw notFound("Event not found");
  }
  const before = Math.floor(limit / 2);
  const after = limit - before;
  const [earlier, later] = await Promise.all([
    scan(db, roomId, requester.userId, { from: row.stream_ordering - 1, to: null, dir: "b", limit: before, filter }),
    scan(db, roomId, requester.userId, { from: row.stream_ordering, to: null, dir: "f", limit: after, filter }),
  ]);
  const [event] = await clientEvents(db, requester, [row]);
  const eventsBefore = await clientEvents(db, requester, earlier.rows);
  const eventsAfter = await clientEvents(db, requester, later.rows);
  const last = later.rows[later.rows.length - 1]?.stream_ordering ?? row.stream_ordering;
  let stateRows = await getStateRowsAt(db, roomId, last);
  if (filter.lazy_load_members) {
    const senders = new Set([event!, ...eventsBefore, ...eventsAfter].map((e) => e.sender));
    stateRows = stateRows.filter((r) => r.type !== "m.room.member" || senders.has(r.state_key!));
  }
  return {
    event: event!,
    events_before: eventsBefore,
    events_after: eventsAfter,
    start: positionToken(earlier.next ?? 0),
    end: positionToken(later.next ?? last),
    state: await clientEvents(db, requester, stateRows),
  };
}
