-- Media repository: one row per mxc://SERVER_NAME/{media_id}; the bytes live in R2 under the key "media/{media_id}".

CREATE TABLE media (
  media_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  -- Set by POST /media/v1/create: after this time an id whose content never arrived is dead.
  unused_expires_ts INTEGER,
  -- Set while a PUT /media/v3/upload streams into R2, so a second concurrent PUT is refused.
  upload_started_ts INTEGER,
  -- NULL until the content is in R2.
  uploaded_ts INTEGER,
  size INTEGER,
  content_type TEXT,
  filename TEXT,
  quarantined INTEGER NOT NULL DEFAULT 0
);
-- Quota (sum of a user's sizes) and pending-upload counts per user.
CREATE INDEX media_user ON media(user_id, uploaded_ts);
