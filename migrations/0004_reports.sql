-- Content reports (Client-Server API, "Reporting content"), and an index for the published room directory.

CREATE TABLE event_reports (
  id INTEGER PRIMARY KEY,
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  reporter TEXT NOT NULL,
  reason TEXT,
  -- From -100 (most offensive) to 0: only clients older than spec v1.18 send it.
  score INTEGER,
  received_ts INTEGER NOT NULL
);
CREATE INDEX event_reports_room ON event_reports(room_id, received_ts);

-- Reports of whole rooms (v1.13): the reporter need not be in the room.
CREATE TABLE room_reports (
  id INTEGER PRIMARY KEY,
  room_id TEXT NOT NULL,
  reporter TEXT NOT NULL,
  reason TEXT NOT NULL,
  received_ts INTEGER NOT NULL
);
CREATE INDEX room_reports_room ON room_reports(room_id, received_ts);

-- The published room directory reads only published rooms; this keeps it from scanning every room.
CREATE INDEX rooms_published ON rooms(room_id) WHERE is_public = 1;
