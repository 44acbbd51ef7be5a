// Reading a file download (remote attachments and avatars, Matrix media) into memory with a size cap.

/** The file is bigger than the bridge will carry: nothing was read past the cap. */
export class TooLargeError extends Error {}

/** A response's body, refused past `maxBytes`: at once from Content-Length, else while reading. */
export async function readCapped(res: Response, maxBytes: number): Promise<ArrayBuffer> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new TooLargeError(`${declared} bytes is over the ${maxBytes}-byte limit`);
  }
  if (res.body === null) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new TooLargeError(`more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes.buffer;
}
