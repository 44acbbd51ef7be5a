import { NEXT_POSITION, commitAtNextPosition } from "./stream-positions";

export interface PresenceRow {
  user_id: string;
  state: string;
  status_msg: string | null;
  last_active_ts: number;
  kept_by_sync: number;
  stream_id: number;
}

export function getPresenceRow(db: D1Database, userId: string): Promise<PresenceRow | null> {
  return db.prepare("SELECT * FROM presence WHERE user_id = ?").bind(userId).first<PresenceRow>();
}

/**
 * A change of state or status message: taken at the next shared stream position, which it returns. `bySync` marks
 * the user as kept online by syncing; a change through PUT leaves the mark as it was.
 */
export async function putPresence(db: D1Database, userId: string, state: string, statusMsg: string | null, now: number, bySync: boolean): Promise<number> {
  const position = await commitAtNextPosition(db, [
    db
      .prepare(
        `INSERT INTO presence (user_id, state, status_msg, last_active_ts, kept_by_sync, stream_id) VALUES (?1, ?2, ?3, ?4, ?5, ${NEXT_POSITION})
         ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, status_msg = excluded.status_msg,
           last_active_ts = excluded.last_active_ts, kept_by_sync = MAX(presence.kept_by_sync, ?5), stream_id = excluded.stream_id`,
      )
      .bind(userId, state, statusMsg, now, bySync ? 1 : 0),
  ]);
  return position!;
}

/** Activity without a change worth a stream position. */
export async function touchPresence(db: D1Database, userId: string, now: number, bySync: boolean): Promise<void> {
  await db
    .prepare("UPDATE presence SET last_active_ts = ?, kept_by_sync = MAX(kept_by_sync, ?) WHERE user_id = ?")
    .bind(now, bySync ? 1 : 0, userId)
    .run();
}

/**
 * Takes users whose syncing stopped before `lapsedBefore` offline (one shared position for all of them, taken only
 * when there are any), and reads `userId`'s presence, in one round trip.
 */
export async function settleLapsedPresence(db: D1Database, userId: string, lapsedBefore: number): Promise<PresenceRow | null> {
  const lapsed = "kept_by_sync = 1 AND state != 'offline' AND last_active_ts < ?";
  const [, , row] = await db.batch([
    db
      .prepare(`UPDATE stream_positions SET position = position + 1 WHERE stream = 'shared' AND EXISTS (SELECT 1 FROM presence WHERE ${lapsed})`)
      .bind(lapsedBefore),
    db.prepare(`UPDATE presence SET state = 'offline', stream_id = ${NEXT_POSITION} WHERE ${lapsed}`).bind(lapsedBefore),
    db.prepare("SELECT * FROM presence WHERE user_id = ?").bind(userId),
  ]);
  return (row?.results[0] as PresenceRow | undefined) ?? null;
}

/** Users joined to a room `userId` is joined to (themselves included when joined anywhere). */
const SHARING_USERS = `SELECT b.state_key FROM current_state a
  JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership = 'join'
  WHERE a.type = 'm.room.member' AND a.state_key = ?1 AND a.membership = 'join'`;

export async function sharesRoom(db: D1Database, userId: string, otherId: string): Promise<boolean> {
  const row = await db.prepare(`SELECT 1 AS x WHERE ?2 IN (${SHARING_USERS})`).bind(userId, otherId).first();
  return row !== null;
}

export async function getUsersSharingRooms(db: D1Database, userId: string): Promise<string[]> {
  const rows = await db.prepare(`SELECT DISTINCT state_key FROM (${SHARING_USERS})`).bind(userId).all<{ state_key: string }>();
  return rows.results.map((r) => r.state_key);
}

/** Presence of the user and of those sharing a room with them, changed in (since, upTo]. */
export async function getPresenceSince(db: D1Database, userId: string, since: number, upTo: number): Promise<PresenceRow[]> {
  const rows = await db
    .prepare(
      `SELECT * FROM presence WHERE stream_id > ?2 AND stream_id <= ?3 AND (user_id = ?1 OR user_id IN (${SHARING_USERS}))
       ORDER BY stream_id`,
    )
    .bind(userId, since, upTo)
    .all<PresenceRow>();
  return rows.results;
}
