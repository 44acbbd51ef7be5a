import { Hono } from "hono";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { invalidParam, notFound } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseQuery } from "../../http/validate";
import { downloadResponse } from "../../media/download";
import { MEDIA_SECURITY_HEADERS, normaliseContentType } from "../../media/headers";
import { previewUrl } from "../../media/preview";
import { thumbnailResponse } from "../../media/serve-thumbnail";
import { type MediaDeps, type Upload, createPendingMedia, uploadNewMedia, uploadToPendingMedia, uploadedMedia } from "../../media/service";
import { MAX_THUMBNAIL_SIDE } from "../../media/thumbnail";

/** Sets the media security headers on every response of a media route, errors included. */
const mediaHeaders = createMiddleware<AppEnv>(async function mediaHeaders(c, next) {
  await next();
  for (const [name, value] of Object.entries(MEDIA_SECURITY_HEADERS)) c.res.headers.set(name, value);
});

const deps = (c: Context<AppEnv>): MediaDeps => ({ db: c.env.DB, bucket: c.env.MEDIA, config: c.var.config });

const UploadQuery = z.object({ filename: z.string().min(1).max(255).optional() });

function readUpload(c: Context<AppEnv>): Upload {
  const { filename } = parseQuery(c, UploadQuery);
  const lengthHeader = c.req.header("content-length");
  if (lengthHeader !== undefined && !/^\d{1,15}$/.test(lengthHeader.trim())) throw invalidParam("Malformed Content-Length");
  return {
    body: c.req.raw.body,
    declaredLength: lengthHeader === undefined ? null : Number(lengthHeader),
    contentType: normaliseContentType(c.req.header("content-type")),
    filename: filename ?? null,
  };
}

const WaitQuery = z.object({ timeout_ms: z.coerce.number().int().min(0).optional() });
const waitOf = (c: Context<AppEnv>) => parseQuery(c, WaitQuery).timeout_ms ?? 20_000;

const side = z.coerce.number().int().positive().max(MAX_THUMBNAIL_SIDE);
const ThumbnailQuery = z.object({
  width: side,
  height: side,
  method: z.enum(["crop", "scale"]).default("scale"),
  animated: z.enum(["true", "false"]).optional(),
  timeout_ms: z.coerce.number().int().min(0).optional(),
});

const PreviewQuery = z.object({ url: z.string().min(1).max(2048), ts: z.coerce.number().int().optional() });

/** GET config: the upload limit clients should respect. */
const mediaConfig = (c: Context<AppEnv>) => c.json({ "m.upload.size": c.var.config.MEDIA_MAX_UPLOAD_BYTES });

/** GET preview_url: OpenGraph data of a URL, fetched by the server. */
const preview = async (c: Context<AppEnv>) => {
  const { url } = parseQuery(c, PreviewQuery);
  const previewDeps = { kv: c.env.KV, db: c.env.DB, bucket: c.env.MEDIA, config: c.var.config };
  return c.json(await previewUrl(previewDeps, c.var.requester.userId, url));
};

/** Authenticated media (spec v1.11), under /_matrix/client. */
export const clientMedia = new Hono<AppEnv>()
  .use("/v1/media/*", mediaHeaders, requireAuth)
  /** GET /_matrix/client/v1/media/config */
  .get("/v1/media/config", mediaConfig)
  /** GET /_matrix/client/v1/media/preview_url */
  .get("/v1/media/preview_url", preview)
  /** GET /_matrix/client/v1/media/download/{serverName}/{mediaId} */
  .get("/v1/media/download/:serverName/:mediaId", async (c) => {
    const row = await uploadedMedia(deps(c), c.req.param("serverName"), c.req.param("mediaId"), waitOf(c));
    return downloadResponse(c.env.MEDIA, row, c.req.header("range"), null);
  })
  /** GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName} */
  .get("/v1/media/download/:serverName/:mediaId/:fileName", async (c) => {
    const row = await uploadedMedia(deps(c), c.req.param("serverName"), c.req.param("mediaId"), waitOf(c));
    return downloadResponse(c.env.MEDIA, row, c.req.header("range"), c.req.param("fileName"));
  })
  /** GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} */
  .get("/v1/media/thumbnail/:serverName/:mediaId", async (c) => {
    const query = parseQuery(c, ThumbnailQuery);
    const row = await uploadedMedia(deps(c), c.req.param("serverName"), c.req.param("mediaId"), query.timeout_ms ?? 20_000);
    // Animated thumbnails are not made: `animated=true` is answered as `false`, which the spec allows.
    return thumbnailResponse(c.env.MEDIA, row, query, {
      maxSourceBytes: c.var.config.MEDIA_THUMBNAIL_MAX_SOURCE_BYTES,
      maxPixels: c.var.config.MEDIA_THUMBNAIL_MAX_PIXELS,
      maxJpegPixels: c.var.config.MEDIA_THUMBNAIL_MAX_JPEG_PIXELS,
    });
  });

/**
 * The /_matrix/media tree: uploads (which have no authenticated replacement yet) and the deprecated endpoints.
 * Downloads and thumbnails there are "frozen" as the spec asks of servers since v1.12: every piece of media here
 * was uploaded after the freeze, so they answer 404 M_NOT_FOUND and clients use /_matrix/client/v1/media.
 */
export const legacyMedia = new Hono<AppEnv>()
  .use("*", mediaHeaders)
  /** POST /_matrix/media/v3/upload */
  .post("/v3/upload", requireAuth, async (c) => {
    const mediaId = await uploadNewMedia(deps(c), c.var.requester.userId, readUpload(c));
    return c.json({ content_uri: `mxc://${c.var.config.SERVER_NAME}/${mediaId}` });
  })
  /** POST /_matrix/media/v1/create */
  .post("/v1/create", requireAuth, async (c) => {
    const { mediaId, unusedExpiresAt } = await createPendingMedia(deps(c), c.var.requester.userId);
    return c.json({ content_uri: `mxc://${c.var.config.SERVER_NAME}/${mediaId}`, unused_expires_at: unusedExpiresAt });
  })
  /** PUT /_matrix/media/v3/upload/{serverName}/{mediaId} */
  .put("/v3/upload/:serverName/:mediaId", requireAuth, async (c) => {
    await uploadToPendingMedia(deps(c), c.var.requester.userId, c.req.param("serverName"), c.req.param("mediaId"), readUpload(c));
    return c.json({});
  })
  /** GET /_matrix/media/v3/config (deprecated; authenticated as it always was) */
  .get("/v3/config", requireAuth, mediaConfig)
  /** GET /_matrix/media/v3/preview_url (deprecated; authenticated as it always was) */
  .get("/v3/preview_url", requireAuth, preview)
  /** GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (frozen) */
  .get("/v3/download/*", () => {
    throw notFound("Media is only available through the authenticated /_matrix/client/v1/media endpoints");
  })
  /** GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (frozen) */
  .get("/v3/thumbnail/*", () => {
    throw notFound("Media is only available through the authenticated /_matrix/client/v1/media endpoints");
  });
