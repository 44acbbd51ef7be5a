import { NEXT_POSITION, commitAtNextPosition } from "./stream-positions";

/** Unthreaded receipts are stored with this thread id. */
const UNTHREADED = "";

export interface ReceiptRow {
  room_id: string;
  user_id: string;
  receipt_type: string;
  /** '' for an unthreaded receipt. */
  thread_id: string;
  event_id: string;
  event_stream_ordering: number;
  ts: number;
  stream_id: number;
}

export interface NewReceipt {
  roomId: string;
  userId: string;
  receiptType: string;
  threadId: string | null;
  eventId: string;
  eventStreamOrdering: number;
  ts: number;
}

/**
 * Stores a receipt unless the user's receipt of that type and thread is already at this event or a later one
 * (receipts are "up to" markers). Returns the stream position taken, or null when nothing changed.
 */
export function putReceipt(db: D1Database, r: NewReceipt): Promise<number | null> {
  const key = [r.roomId, r.userId, r.receiptType, r.threadId ?? UNTHREADED];
  return commitAtNextPosition(
    db,
    [
      db
        .prepare(
          `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_stream_ordering, ts, stream_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ${NEXT_POSITION})
           ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET
             event_id = excluded.event_id, event_stream_ordering = excluded.event_stream_ordering,
             ts = excluded.ts, stream_id = excluded.stream_id
           WHERE excluded.event_stream_ordering > receipts.event_stream_ordering`,
        )
        .bind(...key, r.eventId, r.eventStreamOrdering, r.ts),
    ],
    {
      sql: `NOT EXISTS (SELECT 1 FROM receipts WHERE room_id = ? AND user_id = ? AND receipt_type = ? AND thread_id = ?
                        AND event_stream_ordering >= ?)`,
      params: [...key, r.eventStreamOrdering],
    },
  );
}

/**
 * Receipts in `roomIds` changed in (since, upTo], oldest change first. Private receipts (`privateType`) are
 * returned only for `viewerId`, as no other user may see them.
 */
export async function getReceiptsSince(
  db: D1Database,
  roomIds: string[],
  viewerId: string,
  privateType: string,
  since: number,
  upTo: number,
): Promise<ReceiptRow[]> {
  if (roomIds.length === 0) return [];
  const rows = await db
    .prepare(
      `SELECT r.* FROM receipts r JOIN json_each(?) j ON r.room_id = j.value
       WHERE r.stream_id > ? AND r.stream_id <= ? AND (r.receipt_type != ? OR r.user_id = ?)
       ORDER BY r.stream_id`,
    )
    .bind(JSON.stringify(roomIds), since, upTo, privateType, viewerId)
    .all<ReceiptRow>();
  return rows.results;
}
