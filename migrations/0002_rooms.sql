-- The room server's tables. Every write to a room goes through its RoomObject (one Durable Object per room),
-- which commits each event with its state changes in one D1 batch.

CREATE TABLE server_signing_keys (
  key_id TEXT PRIMARY KEY,
  seed TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  room_version TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  -- Published in the public room directory.
  is_public INTEGER NOT NULL DEFAULT 0
);

-- Every accepted event. stream_ordering is the rowid: SQLite assigns max+1 inside the committing transaction,
-- so orderings are strictly increasing and gap-free across all rooms, in commit order.
CREATE TABLE events (
  stream_ordering INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  -- The PDU as signed (its redacted form once redacted).
  pdu TEXT NOT NULL,
  -- Server-added unsigned data fixed at commit time (prev_content, replaces_state, invite_room_state).
  unsigned TEXT,
  -- m.relates_to of the content, for relations, threads and aggregations.
  relates_to TEXT,
  rel_type TEXT,
  redacted_by TEXT
);
CREATE INDEX events_room_order ON events(room_id, stream_ordering);
CREATE INDEX events_state_history ON events(room_id, type, state_key, stream_ordering) WHERE state_key IS NOT NULL;
CREATE INDEX events_relations ON events(relates_to, rel_type, stream_ordering) WHERE relates_to IS NOT NULL;
CREATE INDEX events_room_ts ON events(room_id, origin_server_ts);
-- Thread lists: a room's m.thread events without scanning its whole timeline.
CREATE INDEX events_room_rel_type ON events(room_id, rel_type, stream_ordering) WHERE rel_type IS NOT NULL;

-- The current state of each room; membership is copied out of member events for quick lookups.
CREATE TABLE current_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  membership TEXT,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_membership ON current_state(state_key, membership) WHERE type = 'm.room.member';

-- Client transaction ids: a retried request returns the same event. A transaction id is scoped to the device
-- and to the endpoint it was used on (`scope`, e.g. `send:!room`).
CREATE TABLE event_txns (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, scope, txn_id)
);
CREATE INDEX event_txns_event ON event_txns(event_id);

-- Rooms a user has forgotten after leaving.
CREATE TABLE forgotten_rooms (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases(room_id);
