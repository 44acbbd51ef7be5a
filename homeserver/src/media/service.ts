import type { Config } from "../config";
import { MatrixError, forbidden, invalidParam, notFound } from "../http/errors";
import {
  type MediaRow,
  claimPendingUpload,
  completePendingUpload,
  countPendingMedia,
  deleteExpiredPendingMedia,
  getMedia,
  insertPendingMedia,
  insertUploadedMedia,
  releasePendingUpload,
  totalUploadedBytes,
} from "../storage/media";
import { isValidMediaId, isValidServerName, newMediaId } from "./ids";
import { contentKey, storeUpload } from "./store";

/** How long an id from POST /create waits for its content (the spec's recommended 24 hours). */
const UNUSED_ID_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Concurrent pending ids per user before POST /create answers 429, as the spec asks servers to limit. */
const MAX_PENDING_PER_USER = 50;
/** A PUT that claimed an id and then vanished (its Worker died) frees the id after this long. */
const STALE_UPLOAD_MS = 10 * 60 * 1000;
/** Longest wait a download of not-yet-uploaded content may ask for with `timeout_ms`. */
export const MAX_WAIT_MS = 20_000;

export interface Upload {
  body: ReadableStream<Uint8Array> | null;
  declaredLength: number | null;
  contentType: string;
  filename: string | null;
}

export interface MediaDeps {
  db: D1Database;
  bucket: R2Bucket;
  config: Config;
}

/** POST /upload: streams the content to R2, then records it. Returns the new media id. */
export async function uploadNewMedia(deps: MediaDeps, userId: string, upload: Upload): Promise<string> {
  const limit = await uploadLimitFor(deps, userId, upload.declaredLength);
  const mediaId = newMediaId();
  const key = contentKey(mediaId);
  const size = await storeUpload(deps.bucket, key, upload.body, { ...upload, limit });
  try {
    await enforceQuotaAfter(deps, userId, size);
    await insertUploadedMedia(deps.db, { mediaId, userId, size, contentType: upload.contentType, filename: upload.filename, now: Date.now() });
  } catch (err) {
    await deps.bucket.delete(key);
    throw err;
  }
  return mediaId;
}

/** POST /create: reserves an id for content that comes later by PUT. */
export async function createPendingMedia(deps: MediaDeps, userId: string): Promise<{ mediaId: string; unusedExpiresAt: number }> {
  const now = Date.now();
  await deleteExpiredPendingMedia(deps.db, userId, now);
  if ((await countPendingMedia(deps.db, userId, now)) >= MAX_PENDING_PER_USER) {
    throw new MatrixError(429, "M_LIMIT_EXCEEDED", "Too many pending media uploads", { retry_after_ms: 60_000 });
  }
  const mediaId = newMediaId();
  const unusedExpiresAt = now + UNUSED_ID_LIFETIME_MS;
  await insertPendingMedia(deps.db, mediaId, userId, now, unusedExpiresAt);
  return { mediaId, unusedExpiresAt };
}

/** PUT /upload/{serverName}/{mediaId}: only the creator, only once, only before the id expires. */
export async function uploadToPendingMedia(deps: MediaDeps, userId: string, serverName: string, mediaId: string, upload: Upload): Promise<void> {
  const row = await localMediaRow(deps, serverName, mediaId);
  const now = Date.now();
  if (!row) throw notFound("Unknown media ID");
  if (row.user_id !== userId) throw forbidden("Only the user who created this media ID may upload to it");
  if (row.uploaded_ts !== null) throw new MatrixError(409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
  if (row.unused_expires_ts === null || row.unused_expires_ts <= now) throw notFound("The media ID has expired");
  const limit = await uploadLimitFor(deps, userId, upload.declaredLength);
  if (!(await claimPendingUpload(deps.db, mediaId, now, now - STALE_UPLOAD_MS))) {
    throw new MatrixError(409, "M_CANNOT_OVERWRITE_MEDIA", "Media is already being uploaded");
  }
  const key = contentKey(mediaId);
  try {
    const size = await storeUpload(deps.bucket, key, upload.body, { ...upload, limit });
    try {
      await enforceQuotaAfter(deps, userId, size);
    } catch (err) {
      await deps.bucket.delete(key);
      throw err;
    }
    await completePendingUpload(deps.db, { mediaId, size, contentType: upload.contentType, filename: upload.filename, now: Date.now() });
  } catch (err) {
    await releasePendingUpload(deps.db, mediaId);
    throw err;
  }
}

/**
 * The row of local, uploaded, servable media. Content that was reserved but has not arrived is waited for up to
 * `timeoutMs` and then answered 504 M_NOT_YET_UPLOADED, as the spec says.
 */
export async function uploadedMedia(deps: MediaDeps, serverName: string, mediaId: string, timeoutMs: number): Promise<MediaRow> {
  const deadline = Date.now() + Math.min(Math.max(timeoutMs, 0), MAX_WAIT_MS);
  for (;;) {
    const row = await localMediaRow(deps, serverName, mediaId);
    if (!row || row.quarantined) throw notFound("Media not found");
    if (row.uploaded_ts !== null) return row;
    if (row.unused_expires_ts === null || row.unused_expires_ts <= Date.now()) throw notFound("Media not found");
    if (Date.now() >= deadline) throw new MatrixError(504, "M_NOT_YET_UPLOADED", "Content has not yet been uploaded");
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(deadline - Date.now(), 0))));
  }
}

/**
 * Checks the path's server name and media id: a malformed one is a 400, another server's media is a 404 (this
 * server does not fetch remote media).
 */
async function localMediaRow(deps: MediaDeps, serverName: string, mediaId: string): Promise<MediaRow | null> {
  if (!isValidServerName(serverName)) throw invalidParam("Malformed server name");
  if (!isValidMediaId(mediaId)) throw invalidParam("Malformed media ID");
  if (serverName !== deps.config.SERVER_NAME) return null;
  return getMedia(deps.db, mediaId);
}

/** The most this upload may be: the server's size limit, and the user's remaining quota (403 if already over). */
async function uploadLimitFor(deps: MediaDeps, userId: string, declaredLength: number | null): Promise<number> {
  const used = await totalUploadedBytes(deps.db, userId);
  const left = deps.config.MEDIA_USER_QUOTA_BYTES - used;
  if (left <= 0 || (declaredLength !== null && declaredLength <= deps.config.MEDIA_MAX_UPLOAD_BYTES && declaredLength > left)) {
    throw quotaExceeded();
  }
  return deps.config.MEDIA_MAX_UPLOAD_BYTES;
}

/** Concurrent uploads may together pass the quota: checked again once the size is known. */
async function enforceQuotaAfter(deps: MediaDeps, userId: string, size: number): Promise<void> {
  const used = await totalUploadedBytes(deps.db, userId);
  if (used + size > deps.config.MEDIA_USER_QUOTA_BYTES) throw quotaExceeded();
}

const quotaExceeded = () => forbidden("Upload quota exceeded");
