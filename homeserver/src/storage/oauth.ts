/** Tables of the OAuth 2.0 provider: oauth_clients, oauth_codes, oauth_sessions, browser_sessions. */

export async function insertClient(db: D1Database, clientId: string, metadata: string, createdTs: number): Promise<void> {
  await db.prepare("INSERT INTO oauth_clients (client_id, metadata, created_ts) VALUES (?, ?, ?)").bind(clientId, metadata, createdTs).run();
}

export async function getClientMetadata(db: D1Database, clientId: string): Promise<string | null> {
  const row = await db.prepare("SELECT metadata FROM oauth_clients WHERE client_id = ?").bind(clientId).first<{ metadata: string }>();
  return row?.metadata ?? null;
}

export interface CodeRow {
  code_hash: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  user_id: string;
  device_id: string;
  scope: string;
  expires_ts: number;
  used_ts: number | null;
}

export async function insertCode(db: D1Database, code: Omit<CodeRow, "used_ts">): Promise<void> {
  const now = Date.now();
  await db.batch([
    // Codes are short-lived; forgotten ones are swept a day after expiry (kept that long to spot replays).
    db.prepare("DELETE FROM oauth_codes WHERE expires_ts < ?").bind(now - 86_400_000),
    db
      .prepare(
        `INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, code_challenge, user_id, device_id, scope, expires_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(code.code_hash, code.client_id, code.redirect_uri, code.code_challenge, code.user_id, code.device_id, code.scope, code.expires_ts),
  ]);
}

/**
 * Marks a code used and returns it; a single UPDATE, so of concurrent redemptions exactly one gets the row.
 * `replayed` is set when the code exists but was already used.
 */
export async function redeemCode(db: D1Database, codeHash: string): Promise<{ code: CodeRow | null; replayed: CodeRow | null }> {
  const code = await db
    .prepare("UPDATE oauth_codes SET used_ts = ? WHERE code_hash = ? AND used_ts IS NULL RETURNING *")
    .bind(Date.now(), codeHash)
    .first<CodeRow>();
  if (code) return { code, replayed: null };
  const replayed = await db.prepare("SELECT * FROM oauth_codes WHERE code_hash = ?").bind(codeHash).first<CodeRow>();
  return { code: null, replayed };
}

export interface OAuthSessionRow {
  user_id: string;
  device_id: string;
  client_id: string;
  scope: string;
}

export function upsertOAuthSessionStatement(db: D1Database, s: OAuthSessionRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO oauth_sessions (user_id, device_id, client_id, scope, created_ts) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET client_id = excluded.client_id, scope = excluded.scope`,
    )
    .bind(s.user_id, s.device_id, s.client_id, s.scope, Date.now());
}

export function getOAuthSession(db: D1Database, userId: string, deviceId: string): Promise<OAuthSessionRow | null> {
  return db
    .prepare("SELECT user_id, device_id, client_id, scope FROM oauth_sessions WHERE user_id = ? AND device_id = ?")
    .bind(userId, deviceId)
    .first<OAuthSessionRow>();
}

export async function deleteOAuthSession(db: D1Database, userId: string, deviceId: string): Promise<void> {
  await db.prepare("DELETE FROM oauth_sessions WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).run();
}

/** The client behind each of a user's OAuth sessions, for the account page. */
export async function listOAuthSessionClients(db: D1Database, userId: string): Promise<{ device_id: string; metadata: string }[]> {
  const r = await db
    .prepare(
      `SELECT s.device_id, c.metadata FROM oauth_sessions s JOIN oauth_clients c ON c.client_id = s.client_id
       WHERE s.user_id = ?`,
    )
    .bind(userId)
    .all<{ device_id: string; metadata: string }>();
  return r.results;
}

export async function insertBrowserSession(db: D1Database, sessionHash: string, userId: string, expiresTs: number): Promise<void> {
  const now = Date.now();
  await db.batch([
    db.prepare("DELETE FROM browser_sessions WHERE expires_ts <= ?").bind(now),
    db
      .prepare("INSERT INTO browser_sessions (session_hash, user_id, created_ts, expires_ts) VALUES (?, ?, ?, ?)")
      .bind(sessionHash, userId, now, expiresTs),
  ]);
}

/** The signed-in user of a live browser session whose account is still active. */
export async function getBrowserSessionUser(db: D1Database, sessionHash: string): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT b.user_id FROM browser_sessions b JOIN users u ON u.user_id = b.user_id
       WHERE b.session_hash = ? AND b.expires_ts > ? AND u.deactivated = 0`,
    )
    .bind(sessionHash, Date.now())
    .first<{ user_id: string }>();
  return row?.user_id ?? null;
}

export async function deleteBrowserSession(db: D1Database, sessionHash: string): Promise<void> {
  await db.prepare("DELETE FROM browser_sessions WHERE session_hash = ?").bind(sessionHash).run();
}

export async function deleteUserBrowserSessions(db: D1Database, userId: string, exceptHash: string): Promise<void> {
  await db.prepare("DELETE FROM browser_sessions WHERE user_id = ? AND session_hash != ?").bind(userId, exceptHash).run();
}
