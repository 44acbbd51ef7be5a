import type { EventRow } from "./events";

/**
 * Reads of the relation columns of `events` (relates_to, rel_type, filled from content["m.relates_to"] at commit).
 * A child counts only while unredacted and in its parent's room: redaction strips `m.relates_to` from the content,
 * and the spec ignores relations across rooms.
 */

/** A window of child events, strictly after `after` and at or before `upTo` (stream orderings). */
export interface ChildWindow {
  roomId: string;
  parentId: string;
  relType: string | null;
  eventType: string | null;
  after: number;
  upTo: number;
  dir: "f" | "b";
  limit: number;
}

/** Direct children of one event, newest or oldest first: served from the events_relations index. */
export async function getChildRows(db: D1Database, w: ChildWindow): Promise<EventRow[]> {
  const order = w.dir === "f" ? "ASC" : "DESC";
  const rows = await db
    .prepare(
      `SELECT * FROM events
       WHERE relates_to = ?1 AND rel_type IS NOT NULL AND (?2 IS NULL OR rel_type = ?2) AND (?3 IS NULL OR type = ?3)
         AND room_id = ?4 AND redacted_by IS NULL AND stream_ordering > ?5 AND stream_ordering <= ?6
       ORDER BY stream_ordering ${order} LIMIT ?7`,
    )
    .bind(w.parentId, w.relType, w.eventType, w.roomId, w.after, w.upTo, w.limit)
    .all<EventRow>();
  return rows.results;
}

/**
 * Children of one event and their children, down to `depth` levels. The filters apply to every returned event,
 * whatever its depth; the walk itself follows every relation type. Event ids are content hashes, so relations
 * cannot form a cycle, and the depth bound ends the walk regardless.
 */
export async function getDescendantRows(db: D1Database, w: ChildWindow, depth: number): Promise<EventRow[]> {
  const order = w.dir === "f" ? "ASC" : "DESC";
  const rows = await db
    .prepare(
      `WITH RECURSIVE related(event_id, depth) AS (
         SELECT ?1, 0
         UNION ALL
         SELECT e.event_id, r.depth + 1 FROM related r JOIN events e ON e.relates_to = r.event_id
         WHERE r.depth < ?8 AND e.rel_type IS NOT NULL AND e.room_id = ?4 AND e.redacted_by IS NULL
       )
       SELECT e.* FROM related r JOIN events e ON e.event_id = r.event_id
       WHERE r.depth > 0 AND (?2 IS NULL OR e.rel_type = ?2) AND (?3 IS NULL OR e.type = ?3)
         AND e.stream_ordering > ?5 AND e.stream_ordering <= ?6
       ORDER BY e.stream_ordering ${order} LIMIT ?7`,
    )
    .bind(w.parentId, w.relType, w.eventType, w.roomId, w.after, w.upTo, w.limit, depth)
    .all<EventRow>();
  return rows.results;
}

/** The latest event of a thread, with the thread's size and whether `userId` sent any of its events. */
export type ThreadSummaryRow = EventRow & { thread_root: string; thread_count: number; thread_participated: number };

/** Thread summaries of the given roots (roots without threads are absent). One read for the whole batch. */
export async function getThreadSummaries(db: D1Database, rootIds: string[], userId: string): Promise<ThreadSummaryRow[]> {
  const rows = await db
    .prepare(
      `WITH summary AS (
         SELECT t.relates_to AS thread_root, COUNT(*) AS thread_count, MAX(t.stream_ordering) AS thread_latest,
                MAX(t.sender = ?2) AS thread_participated
         FROM json_each(?1) j
         JOIN events p ON p.event_id = j.value
         JOIN events t ON t.relates_to = p.event_id AND t.rel_type = 'm.thread'
         WHERE t.room_id = p.room_id AND t.redacted_by IS NULL
         GROUP BY t.relates_to
       )
       SELECT e.*, s.thread_root, s.thread_count, s.thread_participated
       FROM summary s JOIN events e ON e.stream_ordering = s.thread_latest`,
    )
    .bind(JSON.stringify(rootIds), userId)
    .all<ThreadSummaryRow>();
  return rows.results;
}

/**
 * The most recent valid replacement (`m.replace`) of each given event, by origin_server_ts then event_id as the
 * spec orders them. Valid (Client-Server API, "Validity of replacement events"): same room, sender and type as
 * the original, neither a state event, the original not itself an edit, and `m.new_content` present (for
 * encrypted edits it is inside the ciphertext, so that check is the client's). A redacted original gets none.
 */
export async function getLatestEdits(db: D1Database, eventIds: string[]): Promise<EventRow[]> {
  const rows = await db
    .prepare(
      `SELECT * FROM (
         SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.relates_to ORDER BY e.origin_server_ts DESC, e.event_id DESC) AS edit_rank
         FROM json_each(?1) j
         JOIN events p ON p.event_id = j.value
         JOIN events e ON e.relates_to = p.event_id AND e.rel_type = 'm.replace'
         WHERE e.room_id = p.room_id AND e.sender = p.sender AND e.type = p.type
           AND e.state_key IS NULL AND p.state_key IS NULL
           AND e.redacted_by IS NULL AND p.redacted_by IS NULL
           AND (p.rel_type IS NULL OR p.rel_type != 'm.replace')
           AND (e.type = 'm.room.encrypted' OR json_type(e.pdu, '$.content."m.new_content"') = 'object')
       ) WHERE edit_rank = 1`,
    )
    .bind(JSON.stringify(eventIds))
    .all<EventRow>();
  return rows.results;
}

/** Ids of the `m.reference` children of each given event, oldest first, at most `perParent` each. */
export async function getReferenceIds(
  db: D1Database,
  eventIds: string[],
  perParent: number,
): Promise<{ relates_to: string; event_id: string }[]> {
  const rows = await db
    .prepare(
      `SELECT relates_to, event_id FROM (
         SELECT r.relates_to, r.event_id, r.stream_ordering,
                ROW_NUMBER() OVER (PARTITION BY r.relates_to ORDER BY r.stream_ordering) AS n
         FROM json_each(?1) j
         JOIN events p ON p.event_id = j.value
         JOIN events r ON r.relates_to = p.event_id AND r.rel_type = 'm.reference'
         WHERE r.room_id = p.room_id AND r.redacted_by IS NULL
       ) WHERE n <= ?2 ORDER BY stream_ordering`,
    )
    .bind(JSON.stringify(eventIds), perParent)
    .all<{ relates_to: string; event_id: string }>();
  return rows.results;
}

/**
 * Thread roots of a room by latest activity (the stream ordering of the thread's latest event), newest first,
 * whose latest activity is at or before `upTo`; with `participant`, only threads that user started or posted in.
 */
export async function getThreadRoots(
  db: D1Database,
  roomId: string,
  opts: { upTo: number; limit: number; participant: string | null },
): Promise<{ thread_root: string; latest: number }[]> {
  const rows = await db
    .prepare(
      `SELECT t.relates_to AS thread_root, MAX(t.stream_ordering) AS latest
       FROM events t JOIN events p ON p.event_id = t.relates_to
       WHERE t.room_id = ?1 AND t.rel_type = 'm.thread' AND t.redacted_by IS NULL AND p.room_id = ?1
       GROUP BY t.relates_to
       HAVING latest <= ?2 AND (?4 IS NULL OR MAX(t.sender = ?4) OR MAX(p.sender = ?4))
       ORDER BY latest DESC LIMIT ?3`,
    )
    .bind(roomId, opts.upTo, opts.limit, opts.participant)
    .all<{ thread_root: string; latest: number }>();
  return rows.results;
}
