-- Filters uploaded with POST /user/{userId}/filter, referred to by id in /sync (Client-Server API, "Filtering").
-- The definition is kept as uploaded (validated), so GET returns what the client sent and clients that compare
-- their filter with the stored one (matrix-js-sdk does) find them equal.
CREATE TABLE user_filters (
  filter_id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX user_filters_user ON user_filters(user_id);
