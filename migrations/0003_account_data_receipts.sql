-- Account data, receipts and typing: the streams /sync reports beside the room timelines.
--
-- Stream positions. Every change written to these tables takes its stream_id from one shared counter,
-- stream_positions('shared'), incremented in the same D1 batch (one transaction) as the change. D1 runs writes one
-- at a time, so positions grow strictly in commit order across all three tables: a sync token needs one number for
-- all of them (beside the events' stream_ordering), and "what changed since N" is a range scan of an index on
-- (user_id, stream_id) or (room_id, stream_id). Rows are updated in place, so each keeps only its latest value and
-- the position of its last change, which is what an incremental sync sends. A write that changes nothing (a receipt
-- moving backwards, a typing refresh) takes no position; positions may skip numbers but never repeat.

CREATE TABLE stream_positions (
  stream TEXT PRIMARY KEY,
  position INTEGER NOT NULL
);
INSERT INTO stream_positions (stream, position) VALUES ('shared', 0);

-- Global (room_id = '') and per-room account data; content is a JSON object.
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  stream_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data(user_id, stream_id);

-- The latest receipt of each (room, user, receipt type, thread); thread_id '' is an unthreaded receipt.
-- event_stream_ordering is the receipted event's timeline position: receipts only move forward, and notification
-- counts are the events after it.
CREATE TABLE receipts (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_stream_ordering INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  stream_id INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE INDEX receipts_stream ON receipts(room_id, stream_id);

-- Typing: one row per (room, user) that has ever typed there. A user is typing while active = 1 and
-- expires_ts > now. A stop (explicit, or the timeout lapsing) sets active = 0 with a new stream_id; a lapse is given
-- its position by the next reader or writer (see storage/typing.ts), so expiry needs no timer.
CREATE TABLE typing (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  expires_ts INTEGER NOT NULL,
  active INTEGER NOT NULL,
  stream_id INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX typing_stream ON typing(room_id, stream_id);
CREATE INDEX typing_lapsing ON typing(expires_ts) WHERE active = 1;
