// Reading a file download (remote attachments and avatars, Matrix media) into memory with a size cap.
import { readStreamCapped } from "../../homeserver/src/util/read-stream";

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
  const bytes = await readStreamCapped(res.body, maxBytes, () => new TooLargeError(`more than ${maxBytes} bytes`));
  return bytes.buffer as ArrayBuffer;
}
