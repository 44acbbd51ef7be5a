import { MatrixError } from "../http/errors";
import type { MediaRow } from "../storage/media";
import { dispositionWithName, mimeEssence } from "./headers";
import { contentKey, thumbnailKey } from "./store";
import { type PixelLimits, type ThumbnailSpec, cannotThumbnail, chooseThumbnail, inspectImage, renderThumbnail, tooLargeToThumbnail } from "./thumbnail";

const THUMBNAILABLE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export interface ThumbnailLimits extends PixelLimits {
  maxSourceBytes: number;
}

/**
 * A thumbnail of uploaded media: from the R2 cache when it was made before, otherwise rendered, cached and served.
 * Non-images are a 400, images over the byte or pixel limits a 413.
 */
export async function thumbnailResponse(bucket: R2Bucket, row: MediaRow, requested: ThumbnailSpec, limits: ThumbnailLimits): Promise<Response> {
  const contentType = mimeEssence(row.content_type ?? "");
  if (!THUMBNAILABLE.has(contentType)) throw cannotThumbnail();
  const spec = chooseThumbnail(requested);
  const key = thumbnailKey(row.media_id, spec.width, spec.height, spec.method);
  const cached = await bucket.get(key);
  if (cached) return imageResponse(cached.body, cached.httpMetadata?.contentType ?? "image/png", cached.size);

  if ((row.size ?? 0) > limits.maxSourceBytes) throw tooLargeToThumbnail();
  const original = await bucket.get(contentKey(row.media_id));
  if (!original) throw new MatrixError(404, "M_NOT_FOUND", "Media content is missing");
  const bytes = new Uint8Array(await original.arrayBuffer());
  const info = inspectImage(bytes, limits);
  const thumbnail = await renderThumbnail(bytes, info, spec, limits);
  if (!thumbnail) return imageResponse(bytes, contentType, bytes.byteLength);
  await bucket.put(key, thumbnail.bytes, { httpMetadata: { contentType: thumbnail.contentType } });
  return imageResponse(thumbnail.bytes, thumbnail.contentType, thumbnail.bytes.byteLength);
}

function imageResponse(body: ReadableStream | Uint8Array, contentType: string, size: number): Response {
  const extension = contentType.split("/")[1] ?? "png";
  return new Response(body, {
    headers: {
      "Content-Type": contentType,
      "Content-Length": String(size),
      "Content-Disposition": dispositionWithName("inline", `thumbnail.${extension}`),
      "Cache-Control": "private, max-age=31536000, immutable",
    },
  });
}
