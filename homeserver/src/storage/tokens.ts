export interface AccessTokenRow {
  token_hash: string;
  user_id: string;
  device_id: string;
  expires_ts: number | null;
  first_used_ts: number | null;
}

export function getAccessToken(db: D1Database, tokenHash: string): Promise<AccessTokenRow | null> {
  return db
    .prepare("SELECT token_hash, user_id, device_id, expires_ts, first_used_ts FROM access_tokens WHERE token_hash = ?")
    .bind(tokenHash)
    .first<AccessTokenRow>();
}

/** Records the first use of a refreshing client's access token: the refresh that issued it is then final. */
export async function markAccessTokenUsed(db: D1Database, tokenHash: string): Promise<void> {
  await db.prepare("UPDATE access_tokens SET first_used_ts = ? WHERE token_hash = ? AND first_used_ts IS NULL").bind(Date.now(), tokenHash).run();
}

export function insertAccessTokenStatement(
  db: D1Database,
  t: { tokenHash: string; userId: string; deviceId: string; expiresTs: number | null },
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts) VALUES (?, ?, ?, ?, ?)")
    .bind(t.tokenHash, t.userId, t.deviceId, Date.now(), t.expiresTs);
}

export function insertRefreshTokenStatement(
  db: D1Database,
  t: { tokenHash: string; userId: string; deviceId: string; expiresTs: number },
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, expires_ts) VALUES (?, ?, ?, ?, ?)")
    .bind(t.tokenHash, t.userId, t.deviceId, Date.now(), t.expiresTs);
}

export function deleteDeviceAccessTokensStatement(db: D1Database, userId: string, deviceId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?").bind(userId, deviceId);
}

export async function deleteAccessTokensExcept(db: D1Database, userId: string, keepTokenHash: string | null): Promise<void> {
  await db
    .prepare("DELETE FROM access_tokens WHERE user_id = ? AND token_hash IS NOT ?")
    .bind(userId, keepTokenHash)
    .run();
}
