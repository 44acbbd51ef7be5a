/** Refresh token rotation with reuse detection, over `refresh_tokens`, `access_tokens` and `rotated_refresh_tokens`. */

export interface RotatedSession {
  user_id: string;
  device_id: string;
}

export type RotationOutcome =
  | { kind: "rotated"; session: RotatedSession }
  | { kind: "expired" }
  /** The token was already exchanged once: it leaked, and the caller revokes the device. */
  | { kind: "reused"; session: RotatedSession }
  | { kind: "unknown" };

/**
 * Exchanges a live refresh token for the given new pair in one transaction: the old token moves to
 * `rotated_refresh_tokens`, the device's access tokens are replaced, and the new tokens are written only when the
 * old one was live. Because it is one batch, of concurrent exchanges exactly one sees the live row, and every other
 * sees the rotated one (so it is reuse, never a silent miss).
 */
export async function rotateRefreshToken(
  db: D1Database,
  t: { oldHash: string; newAccessHash: string; newRefreshHash: string; accessExpiresTs: number; refreshExpiresTs: number },
): Promise<RotationOutcome> {
  const now = Date.now();
  const live = "FROM refresh_tokens WHERE token_hash = ?1 AND expires_ts > ?2";
  const results = await db.batch<RotatedSession & { expires_ts: number }>([
    db.prepare("DELETE FROM rotated_refresh_tokens WHERE expires_ts <= ?").bind(now),
    db
      .prepare(`INSERT INTO rotated_refresh_tokens (token_hash, user_id, device_id, rotated_ts, expires_ts)
                SELECT token_hash, user_id, device_id, ?2, expires_ts ${live}`)
      .bind(t.oldHash, now),
    db
      .prepare(`DELETE FROM access_tokens WHERE (user_id, device_id) IN (SELECT user_id, device_id ${live})`)
      .bind(t.oldHash, now),
    db
      .prepare(`INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts)
                SELECT ?3, user_id, device_id, ?2, ?4 ${live}`)
      .bind(t.oldHash, now, t.newAccessHash, t.accessExpiresTs),
    db
      .prepare(`INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, expires_ts)
                SELECT ?3, user_id, device_id, ?2, ?4 ${live}`)
      .bind(t.oldHash, now, t.newRefreshHash, t.refreshExpiresTs),
    db.prepare("DELETE FROM refresh_tokens WHERE token_hash = ? RETURNING user_id, device_id, expires_ts").bind(t.oldHash),
  ]);
  const taken = results[5]?.results[0];
  if (taken) {
    return taken.expires_ts > now ? { kind: "rotated", session: { user_id: taken.user_id, device_id: taken.device_id } } : { kind: "expired" };
  }
  const rotated = await findRotatedRefreshToken(db, t.oldHash);
  return rotated ? { kind: "reused", session: rotated } : { kind: "unknown" };
}

export function findRotatedRefreshToken(db: D1Database, tokenHash: string): Promise<RotatedSession | null> {
  return db
    .prepare("SELECT user_id, device_id FROM rotated_refresh_tokens WHERE token_hash = ? AND expires_ts > ?")
    .bind(tokenHash, Date.now())
    .first<RotatedSession>();
}

export function findLiveRefreshToken(db: D1Database, tokenHash: string): Promise<RotatedSession | null> {
  return db
    .prepare("SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = ? AND expires_ts > ?")
    .bind(tokenHash, Date.now())
    .first<RotatedSession>();
}
