import { MatrixError } from "../http/errors";
import type { MediaRow } from "../storage/media";
import { contentDisposition, parseRange } from "./headers";
import { contentKey } from "./store";

/**
 * Streams uploaded content from R2, honouring one `Range`, with the stored Content-Type and a Content-Disposition
 * computed from it (a file name from the path overrides the uploaded one).
 */
export async function downloadResponse(bucket: R2Bucket, row: MediaRow, rangeHeader: string | undefined, fileNameOverride: string | null): Promise<Response> {
  const size = row.size ?? 0;
  const contentType = row.content_type ?? "application/octet-stream";
  const headers = new Headers({
    "Content-Type": contentType,
    "Content-Disposition": contentDisposition(contentType, fileNameOverride ?? row.filename),
    "Accept-Ranges": "bytes",
    // Content never changes under an mxc URI; only the requester may see it, so no shared caches.
    "Cache-Control": "private, max-age=31536000, immutable",
  });
  const range = parseRange(rangeHeader, size);
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${size}`);
    headers.set("Content-Type", "application/json");
    headers.delete("Content-Disposition");
    return new Response(JSON.stringify({ errcode: "M_UNKNOWN", error: "Requested range not satisfiable" }), { status: 416, headers });
  }
  const object = await bucket.get(contentKey(row.media_id), range ? { range } : {});
  if (!object) throw new MatrixError(404, "M_NOT_FOUND", "Media content is missing");
  if (range) {
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
    headers.set("Content-Length", String(range.length));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(size));
  return new Response(object.body, { status: 200, headers });
}
