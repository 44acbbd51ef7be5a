-- Simplified sliding sync (MSC4186): per-connection state, so an incremental response carries only what changed.
--
-- A connection is (user, device, conn_id). Each response it gets has a generation; the `pos` token names it. The
-- client either confirms the latest response (pos = generation) or repeats the previous request (pos = generation - 1)
-- after losing it, so at most one generation is unconfirmed: rows written for it are dropped when the client repeats,
-- and rows it superseded are dropped when the client confirms. Connections idle for 30 minutes are forgotten (the
-- client then gets M_UNKNOWN_POS and starts over).

CREATE TABLE sliding_sync_connections (
  conn_key INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  conn_id TEXT NOT NULL,
  -- The generation of the latest response.
  generation INTEGER NOT NULL,
  -- Sticky request parameters (room subscriptions, extension configs) and list counts as of `generation`, as JSON,
  -- and as of the generation before, restored when the client repeats that request.
  sticky TEXT NOT NULL,
  prev_sticky TEXT,
  last_used_ts INTEGER NOT NULL,
  -- The newest request on the connection: only it may record its response. A cancelled long-poll that wakes late
  -- finds it replaced and records nothing, so the client's view and the server's never part.
  active_request TEXT,
  UNIQUE (user_id, device_id, conn_id)
);
CREATE INDEX sliding_sync_connections_idle ON sliding_sync_connections(last_used_ts);

-- What a connection has sent of a room, as of a generation (copy-on-write: a new row per generation that changed it).
CREATE TABLE sliding_sync_rooms (
  conn_key INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  -- The client has the room's timeline and state up to this stream_ordering.
  sent_events INTEGER NOT NULL,
  -- The room config it was sent with: a timeline limit and a digest of the required_state asked for.
  timeline_limit INTEGER NOT NULL,
  required_state TEXT NOT NULL,
  PRIMARY KEY (conn_key, room_id, generation)
);
CREATE INDEX sliding_sync_rooms_generation ON sliding_sync_rooms(conn_key, generation);
