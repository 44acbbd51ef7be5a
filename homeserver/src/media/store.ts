import { MatrixError } from "../http/errors";

/** R2 keys: the content, and its thumbnails under a prefix of their own so one list/delete finds them all. */
export const contentKey = (mediaId: string) => `media/${mediaId}`;
export const thumbnailKey = (mediaId: string, width: number, height: number, method: string) =>
  `thumbnails/${mediaId}/${width}x${height}-${method}`;

export const tooLarge = (limit: number) => new MatrixError(413, "M_TOO_LARGE", `Cannot upload files larger than ${limit} bytes`);
const truncated = () => new MatrixError(400, "M_UNKNOWN", "The upload ended before Content-Length bytes arrived, or sent more");

/**
 * Part size for uploads of unknown length. R2 wants every part but the last to be the same size and at least
 * 5 MiB; 8 MiB keeps the memory held per upload small.
 */
const PART_BYTES = 8 * 1024 * 1024;

class OverLimit extends Error {}

/** Passes bytes through, counting them, and fails the stream as soon as more than `limit` have gone by. */
function byteCounter(limit: number): { stream: TransformStream<Uint8Array, Uint8Array>; received: () => number } {
  let received = 0;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      received += chunk.byteLength;
      if (received > limit) controller.error(new OverLimit());
      else controller.enqueue(chunk);
    },
  });
  return { stream, received: () => received };
}

export interface StoreOptions {
  /** The request's Content-Length, when it sent one. */
  declaredLength: number | null;
  limit: number;
  contentType: string;
}

/**
 * Streams an upload into R2 under `key` and returns its size. The limit is enforced on the bytes that actually
 * arrive, not only on Content-Length. On any failure (over the limit, fewer or more bytes than declared, the client
 * going away) nothing is left under `key`, and the error is a Matrix error.
 */
export async function storeUpload(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array> | null, opts: StoreOptions): Promise<number> {
  if (opts.declaredLength !== null && opts.declaredLength > opts.limit) {
    await body?.cancel().catch(() => undefined);
    throw tooLarge(opts.limit);
  }
  const counter = byteCounter(opts.limit);
  try {
    // An empty body is put as bytes: R2 never finishes reading a zero-length FixedLengthStream.
    if (body === null || opts.declaredLength === 0) {
      if ((opts.declaredLength ?? 0) !== 0 || (body !== null && (await anyBytesIn(body)))) throw truncated();
      await bucket.put(key, new Uint8Array(0), { httpMetadata: { contentType: opts.contentType } });
      return 0;
    }
    const counted = body.pipeThrough(counter.stream);
    if (opts.declaredLength !== null) await putKnownLength(bucket, key, counted, opts.declaredLength, opts.contentType);
    else await putUnknownLength(bucket, key, counted, opts.contentType);
    return counter.received();
  } catch (err) {
    await bucket.delete(key);
    if (err instanceof MatrixError) throw err;
    if (counter.received() > opts.limit) throw tooLarge(opts.limit);
    throw truncated();
  }
}

/**
 * R2 takes a stream only when its length is known: a FixedLengthStream of the declared length, which also fails
 * the put when the body turns out shorter or longer than it claimed.
 */
async function putKnownLength(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, length: number, contentType: string): Promise<void> {
  const fixed = new FixedLengthStream(length);
  const piping = pump(body, fixed.writable);
  const putting = bucket.put(key, fixed.readable, { httpMetadata: { contentType } });
  const [piped, put] = await Promise.allSettled([piping, putting]);
  if (piped.status === "rejected") throw piped.reason;
  if (put.status === "rejected") throw put.reason;
}

/**
 * Chunked uploads: small ones are buffered and put whole; past one part they go to R2 as a multipart upload,
 * so memory stays at one part whatever the size.
 */
async function putUnknownLength(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, contentType: string): Promise<void> {
  const reader = body.getReader();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let multipart: R2MultipartUpload | null = null;
  const parts: R2UploadedPart[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending.push(value);
      pendingBytes += value.byteLength;
      while (pendingBytes >= PART_BYTES) {
        const all = concat(pending, pendingBytes);
        multipart ??= await bucket.createMultipartUpload(key, { httpMetadata: { contentType } });
        parts.push(await multipart.uploadPart(parts.length + 1, all.subarray(0, PART_BYTES)));
        const rest = all.slice(PART_BYTES);
        pending = [rest];
        pendingBytes = rest.byteLength;
      }
    }
    if (multipart === null) {
      await bucket.put(key, concat(pending, pendingBytes), { httpMetadata: { contentType } });
      return;
    }
    if (pendingBytes > 0) parts.push(await multipart.uploadPart(parts.length + 1, concat(pending, pendingBytes)));
    await multipart.complete(parts);
  } catch (err) {
    await multipart?.abort().catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    throw err;
  }
}

/** Copies a stream into a writable one, failing both sides on an error of either. */
async function pump(body: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const writer = writable.getWriter();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await writer.write(value);
    }
    await writer.close();
  } catch (err) {
    await writer.abort(err).catch(() => undefined);
    await reader.cancel(err).catch(() => undefined);
    throw err;
  }
}

async function anyBytesIn(body: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return false;
    if (value.byteLength > 0) {
      await reader.cancel().catch(() => undefined);
      return true;
    }
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
