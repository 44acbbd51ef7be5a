/** A row of the `media` table. */
export interface MediaRow {
  media_id: string;
  user_id: string;
  created_ts: number;
  unused_expires_ts: number | null;
  upload_started_ts: number | null;
  uploaded_ts: number | null;
  size: number | null;
  content_type: string | null;
  filename: string | null;
  quarantined: number;
}

export function getMedia(db: D1Database, mediaId: string): Promise<MediaRow | null> {
  return db.prepare("SELECT * FROM media WHERE media_id = ?").bind(mediaId).first<MediaRow>();
}

/** Records content that is already in R2 (POST /upload). */
export async function insertUploadedMedia(
  db: D1Database,
  row: { mediaId: string; userId: string; size: number; contentType: string; filename: string | null; now: number },
): Promise<void> {
  await db
    .prepare(
      "INSERT INTO media (media_id, user_id, created_ts, uploaded_ts, size, content_type, filename) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(row.mediaId, row.userId, row.now, row.now, row.size, row.contentType, row.filename)
    .run();
}

/** Reserves an id whose content comes later (POST /create). */
export async function insertPendingMedia(db: D1Database, mediaId: string, userId: string, now: number, expiresTs: number): Promise<void> {
  await db
    .prepare("INSERT INTO media (media_id, user_id, created_ts, unused_expires_ts) VALUES (?, ?, ?, ?)")
    .bind(mediaId, userId, now, expiresTs)
    .run();
}

/** Forgets a user's reserved ids that expired without content (nothing of them is in R2). */
export async function deleteExpiredPendingMedia(db: D1Database, userId: string, now: number): Promise<void> {
  await db
    .prepare("DELETE FROM media WHERE user_id = ? AND uploaded_ts IS NULL AND upload_started_ts IS NULL AND unused_expires_ts <= ?")
    .bind(userId, now)
    .run();
}

/** Reserved, unexpired ids of a user whose content has not arrived. */
export async function countPendingMedia(db: D1Database, userId: string, now: number): Promise<number> {
  const n = await db
    .prepare("SELECT COUNT(*) AS n FROM media WHERE user_id = ? AND uploaded_ts IS NULL AND unused_expires_ts > ?")
    .bind(userId, now)
    .first<number>("n");
  return n ?? 0;
}

/** Bytes a user has stored (the quota counts only completed uploads). */
export async function totalUploadedBytes(db: D1Database, userId: string): Promise<number> {
  const n = await db
    .prepare("SELECT COALESCE(SUM(size), 0) AS n FROM media WHERE user_id = ? AND uploaded_ts IS NOT NULL")
    .bind(userId)
    .first<number>("n");
  return n ?? 0;
}

/**
 * Claims a reserved id for one PUT: true only if it is not uploaded, not expired and no other upload started after
 * `staleBefore` (an upload whose Worker died is retried after that).
 */
export async function claimPendingUpload(db: D1Database, mediaId: string, now: number, staleBefore: number): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE media SET upload_started_ts = ?
       WHERE media_id = ? AND uploaded_ts IS NULL AND unused_expires_ts > ?
         AND (upload_started_ts IS NULL OR upload_started_ts < ?)`,
    )
    .bind(now, mediaId, now, staleBefore)
    .run();
  return result.meta.changes === 1;
}

/** Gives a claimed id back after a failed PUT, so the client may try again. */
export async function releasePendingUpload(db: D1Database, mediaId: string): Promise<void> {
  await db.prepare("UPDATE media SET upload_started_ts = NULL WHERE media_id = ? AND uploaded_ts IS NULL").bind(mediaId).run();
}

export async function completePendingUpload(
  db: D1Database,
  row: { mediaId: string; size: number; contentType: string; filename: string | null; now: number },
): Promise<void> {
  await db
    .prepare("UPDATE media SET uploaded_ts = ?, size = ?, content_type = ?, filename = ?, upload_started_ts = NULL WHERE media_id = ?")
    .bind(row.now, row.size, row.contentType, row.filename, row.mediaId)
    .run();
}
