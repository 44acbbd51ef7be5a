/** Refresh token rotation with reuse detection, over `refresh_tokens`, `access_tokens` and `rotated_refresh_tokens`. */

export interface RotatedSession {
  user_id: string;
  device_id: string;
}

export type RotationOutcome =
  | { kind: "rotated"; session: RotatedSession }
  | { kind: "expired" }
  /** The token was already exchanged and the pair it got was used since: it leaked, and the caller revokes the device. */
  | { kind: "reused"; session: RotatedSession }
  | { kind: "unknown" };

interface NewPair {
  oldHash: string;
  newAccessHash: string;
  newRefreshHash: string;
  accessExpiresTs: number;
  refreshExpiresTs: number;
}

/**
 * Exchanges a refresh token for the given new pair in one transaction: the old token moves to
 * `rotated_refresh_tokens` (remembering its successor pair), the device's access tokens are replaced, and the new
 * tokens are written only when the old one was live. A token exchanged before is a retry (the answer was lost)
 * while its successor pair is unused: the new pair replaces that one. Once the successor was used, it is reuse.
 * Each exchange is one batch, so concurrent ones are applied one after the other, the last pair issued winning.
 */
export async function rotateRefreshToken(db: D1Database, t: NewPair): Promise<RotationOutcome> {
  const now = Date.now();
  const live = "FROM refresh_tokens WHERE token_hash = ?1 AND expires_ts > ?2";
  const results = await db.batch<RotatedSession & { expires_ts: number }>([
    db.prepare("DELETE FROM rotated_refresh_tokens WHERE expires_ts <= ?").bind(now),
    db
      .prepare(`INSERT INTO rotated_refresh_tokens (token_hash, user_id, device_id, rotated_ts, expires_ts, successor_refresh_hash, successor_access_hash)
                SELECT token_hash, user_id, device_id, ?2, expires_ts, ?3, ?4 ${live}`)
      .bind(t.oldHash, now, t.newRefreshHash, t.newAccessHash),
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
  const retried = await replaceUnusedSuccessor(db, t, now);
  if (retried) return { kind: "rotated", session: retried };
  const rotated = await findRotatedRefreshToken(db, t.oldHash);
  return rotated ? { kind: "reused", session: rotated } : { kind: "unknown" };
}

/**
 * The retry of an exchange: when the rotated token's successor refresh token is live and its successor access
 * token was never used, the new pair replaces them (the replaced refresh token is kept as rotated too, so the
 * client holding it can still refresh), in one batch. The session, or null when it is not a retry.
 */
async function replaceUnusedSuccessor(db: D1Database, t: NewPair, now: number): Promise<RotatedSession | null> {
  const retryable = `FROM rotated_refresh_tokens r WHERE r.token_hash = ?1 AND r.expires_ts > ?2
    AND EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = r.successor_refresh_hash AND expires_ts > ?2)
    AND EXISTS (SELECT 1 FROM access_tokens WHERE token_hash = r.successor_access_hash AND first_used_ts IS NULL)`;
  const successor = (column: string) => `(SELECT ${column} FROM rotated_refresh_tokens WHERE token_hash = ?1)`;
  /** Whether this batch issued the new pair (so the retry conditions held). */
  const issued = "EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?3)";
  const results = await db.batch<RotatedSession>([
    db
      .prepare(`INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts) SELECT ?3, r.user_id, r.device_id, ?2, ?4 ${retryable}`)
      .bind(t.oldHash, now, t.newAccessHash, t.accessExpiresTs),
    db
      .prepare(`INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, expires_ts) SELECT ?3, r.user_id, r.device_id, ?2, ?4 ${retryable}`)
      .bind(t.oldHash, now, t.newRefreshHash, t.refreshExpiresTs),
    db
      .prepare(`INSERT INTO rotated_refresh_tokens (token_hash, user_id, device_id, rotated_ts, expires_ts, successor_refresh_hash, successor_access_hash)
                SELECT token_hash, user_id, device_id, ?2, expires_ts, ?3, ?4 FROM refresh_tokens
                WHERE token_hash = ${successor("successor_refresh_hash")} AND ${issued}`)
      .bind(t.oldHash, now, t.newRefreshHash, t.newAccessHash),
    db.prepare(`DELETE FROM access_tokens WHERE token_hash = ${successor("successor_access_hash")} AND ${issued}`).bind(t.oldHash, null, t.newRefreshHash),
    db.prepare(`DELETE FROM refresh_tokens WHERE token_hash = ${successor("successor_refresh_hash")} AND ${issued}`).bind(t.oldHash, null, t.newRefreshHash),
    db
      .prepare(`UPDATE rotated_refresh_tokens SET successor_refresh_hash = ?3, successor_access_hash = ?4
                WHERE successor_refresh_hash = ${successor("successor_refresh_hash")} AND ${issued} RETURNING user_id, device_id`)
      .bind(t.oldHash, null, t.newRefreshHash, t.newAccessHash),
  ]);
  const session = results[5]?.results[0];
  return session ? { user_id: session.user_id, device_id: session.device_id } : null;
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
