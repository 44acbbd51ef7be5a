import { NEXT_POSITION, commitAtNextPosition } from "./stream-positions";

/**
 * Marks a user typing until `expiresTs`. A refresh of someone already typing changes no position (the set of typers
 * is the same); a start does. Returns the position taken, or null for a refresh.
 */
export function startTyping(db: D1Database, roomId: string, userId: string, expiresTs: number, now: number): Promise<number | null> {
  return commitAtNextPosition(
    db,
    [
      db
        .prepare(
          `INSERT INTO typing (room_id, user_id, expires_ts, active, stream_id) VALUES (?1, ?2, ?3, 1, ${NEXT_POSITION})
           ON CONFLICT (room_id, user_id) DO UPDATE SET
             stream_id = CASE WHEN typing.active = 1 AND typing.expires_ts > ?4 THEN typing.stream_id ELSE excluded.stream_id END,
             expires_ts = excluded.expires_ts, active = 1`,
        )
        .bind(roomId, userId, expiresTs, now),
    ],
    { sql: "NOT EXISTS (SELECT 1 FROM typing WHERE room_id = ? AND user_id = ? AND active = 1 AND expires_ts > ?)", params: [roomId, userId, now] },
  );
}

/** Marks a user as no longer typing. Returns the position taken, or null if they were not marked typing. */
export function stopTyping(db: D1Database, roomId: string, userId: string, now: number): Promise<number | null> {
  return commitAtNextPosition(
    db,
    [
      db
        .prepare(
          `UPDATE typing SET active = 0, expires_ts = MIN(expires_ts, ?3), stream_id = ${NEXT_POSITION}
           WHERE room_id = ?1 AND user_id = ?2 AND active = 1`,
        )
        .bind(roomId, userId, now),
    ],
    { sql: "EXISTS (SELECT 1 FROM typing WHERE room_id = ? AND user_id = ? AND active = 1)", params: [roomId, userId] },
  );
}

/** Whether some typing timeout has lapsed without a stream position for the stop yet (a cheap indexed read). */
export async function hasLapsedTyping(db: D1Database, now: number): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM typing WHERE active = 1 AND expires_ts <= ? LIMIT 1").bind(now).first("x")) !== null;
}

/** Gives every lapsed typing timeout one new stream position, as a stop. Returns it, or null if none had lapsed. */
export function stopLapsedTyping(db: D1Database, now: number): Promise<number | null> {
  return commitAtNextPosition(
    db,
    [db.prepare(`UPDATE typing SET active = 0, stream_id = ${NEXT_POSITION} WHERE active = 1 AND expires_ts <= ?`).bind(now)],
    { sql: "EXISTS (SELECT 1 FROM typing WHERE active = 1 AND expires_ts <= ?)", params: [now] },
  );
}

/** Who is typing in `roomIds` at `now`. */
export async function getTypingUsers(db: D1Database, roomIds: string[], now: number): Promise<{ room_id: string; user_id: string }[]> {
  if (roomIds.length === 0) return [];
  const rows = await db
    .prepare(
      `SELECT t.room_id, t.user_id FROM typing t JOIN json_each(?) j ON t.room_id = j.value
       WHERE t.active = 1 AND t.expires_ts > ? ORDER BY t.room_id, t.user_id`,
    )
    .bind(JSON.stringify(roomIds), now)
    .all<{ room_id: string; user_id: string }>();
  return rows.results;
}

/** The rooms among `roomIds` whose typers changed in (since, upTo]. */
export async function getTypingRoomsChanged(db: D1Database, roomIds: string[], since: number, upTo: number): Promise<string[]> {
  if (roomIds.length === 0) return [];
  const rows = await db
    .prepare(
      `SELECT DISTINCT t.room_id FROM typing t JOIN json_each(?) j ON t.room_id = j.value
       WHERE t.stream_id > ? AND t.stream_id <= ?`,
    )
    .bind(JSON.stringify(roomIds), since, upTo)
    .all<{ room_id: string }>();
  return rows.results.map((r) => r.room_id);
}

/** The earliest moment someone in `roomIds` stops typing by timeout, so a waiting /sync knows when to look again. */
export async function getNextTypingExpiry(db: D1Database, roomIds: string[], now: number): Promise<number | null> {
  if (roomIds.length === 0) return null;
  return db
    .prepare(
      `SELECT MIN(t.expires_ts) AS next FROM typing t JOIN json_each(?) j ON t.room_id = j.value
       WHERE t.active = 1 AND t.expires_ts > ?`,
    )
    .bind(JSON.stringify(roomIds), now)
    .first<number | null>("next");
}
