/** Server-side key backup (migrations/0006): backup versions and their room keys. */

export interface BackupVersionRow {
  user_id: string;
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  deleted: number;
}

export interface RoomKeyRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  session_data: string;
}

/** The current backup (the newest not deleted), or a given version (deleted or not). */
export async function getBackupVersion(db: D1Database, userId: string, version?: number): Promise<BackupVersionRow | null> {
  if (version === undefined) {
    return db
      .prepare("SELECT * FROM room_key_backups WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1")
      .bind(userId)
      .first<BackupVersionRow>();
  }
  return db.prepare("SELECT * FROM room_key_backups WHERE user_id = ? AND version = ?").bind(userId, version).first<BackupVersionRow>();
}

/** Creates the next version (numbers are never reused, even after a deletion). */
export async function insertBackupVersion(db: D1Database, userId: string, algorithm: string, authData: string): Promise<number> {
  const row = await db
    .prepare(
      `INSERT INTO room_key_backups (user_id, version, algorithm, auth_data)
       VALUES (?1, (SELECT COALESCE(MAX(version), 0) + 1 FROM room_key_backups WHERE user_id = ?1), ?2, ?3)
       RETURNING version`,
    )
    .bind(userId, algorithm, authData)
    .first<number>("version");
  return row!;
}

export async function updateBackupAuthData(db: D1Database, userId: string, version: number, authData: string): Promise<void> {
  await db.prepare("UPDATE room_key_backups SET auth_data = ? WHERE user_id = ? AND version = ?").bind(authData, userId, version).run();
}

/** Marks a version deleted and drops its keys. */
export async function deleteBackupVersion(db: D1Database, userId: string, version: number): Promise<void> {
  await db.batch([
    db.prepare("UPDATE room_key_backups SET deleted = 1 WHERE user_id = ? AND version = ?").bind(userId, version),
    db.prepare("DELETE FROM room_keys WHERE user_id = ? AND version = ?").bind(userId, version),
  ]);
}

export async function countRoomKeys(db: D1Database, userId: string, version: number): Promise<number> {
  return (await db.prepare("SELECT COUNT(*) AS n FROM room_keys WHERE user_id = ? AND version = ?").bind(userId, version).first<number>("n")) ?? 0;
}

/** Keys of a version, optionally of one room or one session. */
export async function getRoomKeys(db: D1Database, userId: string, version: number, roomId?: string, sessionId?: string): Promise<RoomKeyRow[]> {
  let sql = "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM room_keys WHERE user_id = ? AND version = ?";
  const params: unknown[] = [userId, version];
  if (roomId !== undefined) {
    sql += " AND room_id = ?";
    params.push(roomId);
  }
  if (sessionId !== undefined) {
    sql += " AND session_id = ?";
    params.push(sessionId);
  }
  return (await db.prepare(`${sql} ORDER BY room_id, session_id`).bind(...params).all<RoomKeyRow>()).results;
}

/**
 * Stores keys, each replacing the stored key of its session only when better by the spec's rules: verified beats
 * unverified, then the lower first_message_index, then the lower forwarded_count. One statement, so concurrent
 * uploads cannot undo each other's better key. The version's etag changes when anything was written.
 */
export async function putRoomKeys(db: D1Database, userId: string, version: number, keys: RoomKeyRow[]): Promise<void> {
  if (keys.length === 0) return;
  const result = await db
    .prepare(
      `INSERT INTO room_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
       SELECT ?1, ?2, json_extract(value, '$.room_id'), json_extract(value, '$.session_id'), json_extract(value, '$.first_message_index'),
              json_extract(value, '$.forwarded_count'), json_extract(value, '$.is_verified'), json_extract(value, '$.session_data')
       FROM json_each(?3) WHERE true
       ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
         first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
         is_verified = excluded.is_verified, session_data = excluded.session_data
       WHERE excluded.is_verified > room_keys.is_verified
          OR (excluded.is_verified = room_keys.is_verified AND (excluded.first_message_index < room_keys.first_message_index
              OR (excluded.first_message_index = room_keys.first_message_index AND excluded.forwarded_count < room_keys.forwarded_count)))`,
    )
    .bind(userId, version, JSON.stringify(keys))
    .run();
  if (result.meta.changes > 0) {
    await db.prepare("UPDATE room_key_backups SET etag = etag + 1 WHERE user_id = ? AND version = ?").bind(userId, version).run();
  }
}

export async function deleteRoomKeys(db: D1Database, userId: string, version: number, roomId?: string, sessionId?: string): Promise<void> {
  let sql = "DELETE FROM room_keys WHERE user_id = ? AND version = ?";
  const params: unknown[] = [userId, version];
  if (roomId !== undefined) {
    sql += " AND room_id = ?";
    params.push(roomId);
  }
  if (sessionId !== undefined) {
    sql += " AND session_id = ?";
    params.push(sessionId);
  }
  await db.batch([
    db.prepare(sql).bind(...params),
    db.prepare("UPDATE room_key_backups SET etag = etag + 1 WHERE user_id = ? AND version = ?").bind(userId, version),
  ]);
}
