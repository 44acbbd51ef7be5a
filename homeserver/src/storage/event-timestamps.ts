import type { EventRow } from "./events";

/** A position in a room's timeline ordered by (origin_server_ts, stream_ordering). */
export interface TimestampCursor {
  ts: number;
  streamOrdering: number;
}

/**
 * Up to `limit` events of a room strictly after (`f`) or before (`b`) the cursor in (origin_server_ts,
 * stream_ordering) order, nearest first. The row-value comparison walks the events_room_ts index (whose entries
 * end with the rowid, i.e. stream_ordering).
 */
export async function eventsFromTimestamp(
  db: D1Database,
  roomId: string,
  cursor: TimestampCursor,
  dir: "f" | "b",
  limit: number,
): Promise<EventRow[]> {
  const sql =
    dir === "f"
      ? `SELECT * FROM events WHERE room_id = ? AND (origin_server_ts, stream_ordering) > (?, ?)
         ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT ?`
      : `SELECT * FROM events WHERE room_id = ? AND (origin_server_ts, stream_ordering) < (?, ?)
         ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT ?`;
  const rows = await db.prepare(sql).bind(roomId, cursor.ts, cursor.streamOrdering, limit).all<EventRow>();
  return rows.results;
}
