// The size cap on downloads: refused from Content-Length at once, or while reading a body of unknown length.
import { describe, expect, it } from "vitest";
import { TooLargeError, readCapped } from "../download";

const stream = (...chunks: number[][]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk));
      controller.close();
    },
  });

describe("readCapped", () => {
  it("reads a body up to the cap, chunks joined in order", async () => {
    expect(new Uint8Array(await readCapped(new Response(stream([1, 2], [3, 4]), {}), 4))).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(new Uint8Array(await readCapped(new Response(null), 4))).toEqual(new Uint8Array([]));
  });

  it("refuses a declared Content-Length over the cap before reading", async () => {
    const res = new Response(new Uint8Array(10), { headers: { "content-length": "10" } });
    const err = await readCapped(res, 9).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooLargeError);
    expect((err as Error).message).toBe("10 bytes is over the 9-byte limit");
  });

  it("refuses a body of unknown length once it passes the cap", async () => {
    await expect(readCapped(new Response(stream([1, 2, 3], [4, 5])), 4)).rejects.toThrow("more than 4 bytes");
  });
});
