-- Push: notification counts, pushers; and presence.

-- What each event did for each local user it notified (push rules evaluated when the event is committed, in the same
-- D1 batch, so a count always appears in the same /sync as its event). Only notifying or highlighting events have
-- rows. thread_id is 'main' or the thread root's event id. Unread counts are the rows after the user's read
-- position in that thread (services/unread-counts.ts); rows stay for GET /notifications.
CREATE TABLE event_push_actions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  notify INTEGER NOT NULL,
  highlight INTEGER NOT NULL,
  -- The matching rule's actions (JSON array), for GET /notifications and pushers.
  actions TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, stream_ordering)
);
CREATE INDEX event_push_actions_user ON event_push_actions(user_id, stream_ordering);
-- A redaction takes back its target's notifications.
CREATE INDEX event_push_actions_event ON event_push_actions(event_id);

-- The latest event each user sent in each room and thread: sending an event marks everything before it read
-- (spec: "Marking notifications as read"), without a visible receipt.
CREATE TABLE push_sent_positions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_id)
);

-- Pushers (POST /pushers/set). Unique per (app_id, pushkey, user_id); data is the JSON object the client sent.
CREATE TABLE pushers (
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  kind TEXT NOT NULL,
  app_display_name TEXT NOT NULL,
  device_display_name TEXT NOT NULL,
  profile_tag TEXT,
  lang TEXT NOT NULL,
  data TEXT NOT NULL,
  -- The device that set it (pushers of a deleted device go with it).
  device_id TEXT,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (app_id, pushkey, user_id)
);
CREATE INDEX pushers_user ON pushers(user_id);

-- Presence: one row per user who ever set it. stream_id is a position of the shared stream (migrations/0003), taken
-- when the state or status message changes, so /sync sends the users whose presence changed since its token.
-- last_active_ts is refreshed without a new position (clients derive last_active_ago). kept_by_sync = 1 once the
-- user's client syncs: such a user goes offline when the syncing stops (settled lazily by the next /sync anyone
-- makes, as typing lapses are); presence only ever set with PUT (an appservice's ghosts) stays as set.
CREATE TABLE presence (
  user_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts INTEGER NOT NULL,
  kept_by_sync INTEGER NOT NULL DEFAULT 0,
  stream_id INTEGER NOT NULL
);
CREATE INDEX presence_stream ON presence(stream_id);
CREATE INDEX presence_lapsing ON presence(last_active_ts) WHERE kept_by_sync = 1 AND state != 'offline';
