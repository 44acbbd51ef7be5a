-- End-to-end encryption: device keys, cross-signing keys and signatures, device list changes, to-device messages,
-- server-side key backup and dehydrated devices. One-time and fallback keys are not here: they live in each user's
-- UserKeys Durable Object (homeserver/src/e2ee/user-keys.ts), which serializes uploads and claims.
--
-- Device list changes and to-device messages take their stream_id from the shared counter (migrations/0003), so a
-- sync token's shared position also says which of them a client has seen.

-- A device's identity keys as uploaded (signed JSON, without the unsigned display name).
CREATE TABLE e2e_device_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- master, self_signing and user_signing keys; key_id is `ed25519:<public key>`.
CREATE TABLE e2e_cross_signing_keys (
  user_id TEXT NOT NULL,
  usage TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, usage)
);

-- Signatures uploaded after the fact (POST /keys/signatures/upload) on a device key (target_key_id = device id) or a
-- cross-signing key (target_key_id = its public key).
CREATE TABLE e2e_key_signatures (
  target_user_id TEXT NOT NULL,
  target_key_id TEXT NOT NULL,
  signer_user_id TEXT NOT NULL,
  signer_key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- The position of the latest change to each user's device list (devices' keys or cross-signing keys).
CREATE TABLE device_list_changes (
  user_id TEXT PRIMARY KEY,
  stream_id INTEGER NOT NULL
);
CREATE INDEX device_list_changes_stream ON device_list_changes(stream_id);

-- To-device messages waiting for their device's next sync; deleted once a later sync's `since` acknowledges them.
CREATE TABLE to_device_messages (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  stream_id INTEGER NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, stream_id)
);

-- Transaction ids of PUT /sendToDevice, per sending device: a retry sends nothing again.
CREATE TABLE to_device_txns (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Server-side key backup versions; the current one is the highest version not deleted. etag changes with every
-- change to the version's keys.
CREATE TABLE room_key_backups (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  auth_data TEXT NOT NULL,
  etag INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE room_keys (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index INTEGER NOT NULL,
  forwarded_count INTEGER NOT NULL,
  is_verified INTEGER NOT NULL,
  session_data TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);

-- MSC3814: at most one dehydrated device per user, with its opaque device_data.
CREATE TABLE dehydrated_devices (
  user_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  device_data TEXT NOT NULL
);
