-- OAuth 2.0 API (next-generation auth): registered clients, authorization codes, which client owns a device's
-- session, the homeserver's own browser sign-in, and the refresh tokens already rotated away (reuse detection).

-- Dynamically registered clients (RFC 7591); `metadata` is the validated, normalized JSON we answered with.
CREATE TABLE oauth_clients (
  client_id TEXT PRIMARY KEY,
  metadata TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

-- Authorization codes, stored hashed. `used_ts` is set atomically on redemption; a second redemption finds it set.
CREATE TABLE oauth_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  expires_ts INTEGER NOT NULL,
  used_ts INTEGER
);
CREATE INDEX oauth_codes_expiry ON oauth_codes(expires_ts);

-- The OAuth client and scope behind a device's tokens (absent for password logins).
CREATE TABLE oauth_sessions (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- Sign-in to the homeserver's own pages (login, consent, account management), by cookie; stored hashed.
CREATE TABLE browser_sessions (
  session_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX browser_sessions_user ON browser_sessions(user_id);

-- Refresh tokens that were exchanged for new ones: presenting one again means it leaked, so the device is revoked.
CREATE TABLE rotated_refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  rotated_ts INTEGER NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX rotated_refresh_tokens_expiry ON rotated_refresh_tokens(expires_ts);
