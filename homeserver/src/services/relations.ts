import { notFound } from "../http/errors";
import type { Requester } from "../http/types";
import { type ClientEvent, toClientEvent } from "../rooms/client-event";
import { type EventRow, getEventRow, getEventRows } from "../storage/events";
import {
  type ChildWindow,
  getChildRows,
  getDescendantRows,
  getLatestEdits,
  getReferenceIds,
  getThreadRoots,
  getThreadSummaries,
} from "../storage/relations";
import { clientEvents } from "./client-events";
import { assertCanRead } from "./messages";
import { positionToken } from "./pagination";
import { filterVisible } from "./visibility";

/** How deep `recurse=true` follows relations of relations (the spec asks for at least 3). */
export const RECURSION_DEPTH = 3;
/** Bounds the `m.reference` aggregation, which is bundled with every read of the parent. */
const REFERENCES_PER_EVENT = 100;
/** Batches read before answering with what was found, when history visibility hides most candidates. */
const MAX_SCAN_BATCHES = 5;
/** Past every stream ordering: the start of a backwards scan without `from`. */
const END_OF_STREAM = Number.MAX_SAFE_INTEGER;

/** One candidate of a scan: the event to check for visibility, and where the scan resumes after it. */
interface Candidate {
  row: EventRow;
  resumeAt: number;
}

/**
 * Collects up to `limit` events the user may see, reading candidates `fetchPage(position, n)` in batches from
 * `from`. `next` is where to resume, or null when the candidates ran out.
 */
async function scanVisible(
  db: D1Database,
  roomId: string,
  userId: string,
  from: number,
  limit: number,
  fetchPage: (position: number, n: number) => Promise<Candidate[]>,
): Promise<{ rows: EventRow[]; next: number | null }> {
  const found: EventRow[] = [];
  let position = from;
  for (let batch = 0; batch < MAX_SCAN_BATCHES; batch++) {
    const want = limit - found.length;
    // One more than wanted, so a full page tells whether anything follows it.
    const candidates = await fetchPage(position, want + 1);
    const visible = new Set((await filterVisible(db, roomId, userId, candidates.map((c) => c.row))).map((r) => r.event_id));
    for (const candidate of candidates) {
      if (found.length === limit) return { rows: found, next: position };
      position = candidate.resumeAt;
      if (visible.has(candidate.row.event_id)) found.push(candidate.row);
    }
    if (candidates.length <= want) return { rows: found, next: null };
  }
  return { rows: found, next: position };
}

/** The parent of a relations query: it must exist in the room and be visible to the user, else 404. */
async function visibleParent(db: D1Database, roomId: string, userId: string, eventId: string): Promise<EventRow> {
  const parent = await getEventRow(db, eventId);
  if (!parent || parent.room_id !== roomId || (await filterVisible(db, roomId, userId, [parent])).length === 0) {
    throw notFound("Event not found");
  }
  return parent;
}

export interface RelationsQuery {
  relType: string | null;
  eventType: string | null;
  from: number | null;
  to: number | null;
  dir: "f" | "b";
  limit: number;
  /** Absent when the client did not send `recurse`: then the response has no `recursion_depth` either. */
  recurse?: boolean;
}

export interface RelationsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

/** GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] */
export async function relations(
  db: D1Database,
  requester: Requester,
  roomId: string,
  eventId: string,
  q: RelationsQuery,
): Promise<RelationsResponse> {
  await assertCanRead(db, roomId, requester.userId);
  await visibleParent(db, roomId, requester.userId, eventId);
  const depth = q.recurse ? RECURSION_DEPTH : 1;
  const from = q.from ?? (q.dir === "b" ? END_OF_STREAM : 0);
  const { rows, next } = await scanVisible(db, roomId, requester.userId, from, q.limit, async (position, n) => {
    const bounds =
      q.dir === "b" ? { after: q.to ?? 0, upTo: position } : { after: position, upTo: q.to ?? END_OF_STREAM };
    const window: ChildWindow = { roomId, parentId: eventId, relType: q.relType, eventType: q.eventType, dir: q.dir, limit: n, ...bounds };
    const children = depth === 1 ? await getChildRows(db, window) : await getDescendantRows(db, window, depth);
    return children.map((row) => ({ row, resumeAt: q.dir === "b" ? row.stream_ordering - 1 : row.stream_ordering }));
  });
  const response: RelationsResponse = { chunk: await clientEvents(db, requester, rows) };
  if (next !== null) response.next_batch = positionToken(next);
  if (q.from !== null) response.prev_batch = positionToken(q.from);
  if (q.recurse !== undefined) response.recursion_depth = depth;
  return response;
}

/** GET /rooms/{roomId}/threads: thread roots the user may see, most recently active thread first. */
export async function threadRoots(
  db: D1Database,
  requester: Requester,
  roomId: string,
  q: { include: "all" | "participated"; from: number | null; limit: number },
): Promise<{ chunk: ClientEvent[]; next_batch?: string }> {
  await assertCanRead(db, roomId, requester.userId);
  const participant = q.include === "participated" ? requester.userId : null;
  const { rows, next } = await scanVisible(db, roomId, requester.userId, q.from ?? END_OF_STREAM, q.limit, async (position, n) => {
    const threads = await getThreadRoots(db, roomId, { upTo: position, limit: n, participant });
    const roots = new Map((await getEventRows(db, threads.map((t) => t.thread_root))).map((r) => [r.event_id, r]));
    return threads.flatMap((t) => {
      const row = roots.get(t.thread_root);
      return row ? [{ row, resumeAt: t.latest - 1 }] : [];
    });
  });
  const response: { chunk: ClientEvent[]; next_batch?: string } = { chunk: await clientEvents(db, requester, rows) };
  if (next !== null) response.next_batch = positionToken(next);
  return response;
}

/** Latest valid edit and references of some events: the aggregations that need no recursion. */
interface ChildAggregations {
  edits: Map<string, EventRow>;
  references: Map<string, string[]>;
}

async function childAggregations(db: D1Database, eventIds: string[]): Promise<ChildAggregations> {
  if (eventIds.length === 0) return { edits: new Map(), references: new Map() };
  const [edits, references] = await Promise.all([getLatestEdits(db, eventIds), getReferenceIds(db, eventIds, REFERENCES_PER_EVENT)]);
  const referencesByParent = new Map<string, string[]>();
  for (const r of references) referencesByParent.set(r.relates_to, [...(referencesByParent.get(r.relates_to) ?? []), r.event_id]);
  return { edits: new Map(edits.map((e) => [e.relates_to!, e])), references: referencesByParent };
}

/** The `m.replace` and `m.reference` parts of one event's bundle. */
function bundleChildren(eventId: string, children: ChildAggregations, now: number): Record<string, unknown> {
  const bundle: Record<string, unknown> = {};
  const edit = children.edits.get(eventId);
  // Since v1.7 the original's content is left alone: the bundle carries the most recent edit, as a client event.
  if (edit) bundle["m.replace"] = toClientEvent(edit, { now });
  const references = children.references.get(eventId);
  if (references) bundle["m.reference"] = { chunk: references.map((id) => ({ event_id: id })) };
  return bundle;
}

/** The ids of the events `userId` may see, checked room by room (one visibility read per room). */
async function visibleIds(db: D1Database, userId: string, rows: EventRow[]): Promise<Set<string>> {
  const byRoom = new Map<string, EventRow[]>();
  for (const row of rows) byRoom.set(row.room_id, [...(byRoom.get(row.room_id) ?? []), row]);
  const visible = await Promise.all([...byRoom].map(([roomId, roomRows]) => filterVisible(db, roomId, userId, roomRows)));
  return new Set(visible.flat().map((r) => r.event_id));
}

/**
 * Bundled aggregations (`unsigned["m.relations"]`) of the given events for one requester: `m.thread`,
 * `m.replace` and `m.reference` (`m.annotation` is not aggregated by servers). Batched: a fixed number of reads
 * for the whole batch, plus one visibility read per room for the threads' latest events. A thread's latest event
 * carries its own edits and references, but never a thread of its own, so the nesting stops there.
 */
export async function aggregationsFor(
  db: D1Database,
  requester: Requester,
  rows: EventRow[],
): Promise<Map<string, Record<string, unknown>>> {
  // State events do not receive bundled aggregations (Client-Server API, "Aggregations of child events").
  const parents = rows.filter((r) => r.state_key === null);
  if (parents.length === 0) return new Map();
  const ids = parents.map((r) => r.event_id);
  const [threads, children] = await Promise.all([getThreadSummaries(db, ids, requester.userId), childAggregations(db, ids)]);
  const [visibleLatest, latestChildren] = await Promise.all([
    visibleIds(db, requester.userId, threads),
    childAggregations(db, threads.map((t) => t.event_id)),
  ]);
  const threadByRoot = new Map(threads.map((t) => [t.thread_root, t]));
  const now = Date.now();
  const result = new Map<string, Record<string, unknown>>();
  for (const parent of parents) {
    const bundle = bundleChildren(parent.event_id, children, now);
    const thread = threadByRoot.get(parent.event_id);
    // A thread whose latest event the user may not see (posted after they left) is left out rather than leaked.
    if (thread && visibleLatest.has(thread.event_id)) {
      const latestBundle = bundleChildren(thread.event_id, latestChildren, now);
      bundle["m.thread"] = {
        latest_event: toClientEvent(thread, { now, relations: Object.keys(latestBundle).length > 0 ? latestBundle : undefined }),
        count: thread.thread_count,
        current_user_participated: thread.thread_participated === 1 || parent.sender === requester.userId,
      };
    }
    if (Object.keys(bundle).length > 0) result.set(parent.event_id, bundle);
  }
  return result;
}
