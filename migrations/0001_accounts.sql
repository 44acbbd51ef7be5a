-- Accounts, devices and their tokens.
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  password_hash TEXT,
  created_ts INTEGER NOT NULL,
  deactivated INTEGER NOT NULL DEFAULT 0,
  appservice_id TEXT
);

CREATE TABLE profiles (
  user_id TEXT PRIMARY KEY REFERENCES users(user_id),
  displayname TEXT,
  avatar_url TEXT
);

CREATE TABLE devices (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  display_name TEXT,
  created_ts INTEGER NOT NULL,
  last_seen_ts INTEGER,
  last_seen_ip TEXT,
  PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored only as SHA-256 hashes.
CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  expires_ts INTEGER
);
CREATE INDEX access_tokens_device ON access_tokens(user_id, device_id);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_device ON refresh_tokens(user_id, device_id);
