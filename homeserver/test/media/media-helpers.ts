import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";

/** Like helpers.call, for binary bodies and responses: the raw Response is returned. */
export async function send(
  method: string,
  path: string,
  opts: { token?: string; body?: BodyInit | null; headers?: Record<string, string>; env?: Partial<Record<keyof Env, unknown>> } = {},
): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  const request = new Request(`http://localhost${path}`, { method, headers, body: opts.body ?? null });
  const ctx = createExecutionContext();
  const testEnv = opts.env ? ({ ...env, ...opts.env } as Env) : env;
  const response = await worker.fetch(request, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** A body stream of unknown length (no Content-Length reaches the Worker), delivered in `chunk`-byte pieces. */
export function streamOf(bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** Deterministic pseudo-random bytes (xorshift32): incompressible, reproducible. */
export function deterministicBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export async function sha256(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.byteLength);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.byteLength, crc32(out.subarray(4, 8 + data.byteLength)));
  return out;
}

/**
 * An RGB PNG of `width` x `height`. `pixel(x, y)` gives the colour; the default is noise, so the file is about
 * 3 bytes per pixel (a "10 MB PNG" that really is 10 MB).
 */
export async function makePng(width: number, height: number, pixel?: (x: number, y: number) => [number, number, number]): Promise<Uint8Array> {
  const row = 1 + width * 3;
  const raw = pixel ? new Uint8Array(row * height) : deterministicBytes(row * height, width * 31 + height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0; // filter: none
    if (!pixel) continue;
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), y * row + 1 + x * 3);
  }
  const compressed = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer());
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", compressed), chunk("IEND", new Uint8Array(0))];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Width and height from a PNG's IHDR, read independently of the code under test. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

export async function upload(token: string, body: BodyInit, opts: { contentType?: string; filename?: string; headers?: Record<string, string>; env?: Partial<Record<keyof Env, unknown>> } = {}) {
  const query = opts.filename === undefined ? "" : `?filename=${encodeURIComponent(opts.filename)}`;
  const res = await send("POST", `/_matrix/media/v3/upload${query}`, {
    token,
    body,
    headers: { "content-type": opts.contentType ?? "application/octet-stream", ...opts.headers },
    ...(opts.env ? { env: opts.env } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, json, headers: res.headers };
}

/** The media id of an mxc URI of this server. */
export function mediaIdOf(contentUri: unknown): string {
  const match = /^mxc:\/\/localhost:8787\/([A-Za-z0-9_-]+)$/.exec(String(contentUri));
  expect(match).not.toBeNull();
  return match![1]!;
}

export async function mediaKeys(): Promise<string[]> {
  const listed = await env.MEDIA.list({ prefix: "media/" });
  return listed.objects.map((o) => o.key);
}

/**
 * A JPEG of `width` x `height` (multiples of 8) in which every 8x8 block is one flat colour, `block(x, y)` at the
 * block's top-left pixel. Flat blocks have only a DC coefficient, so the encoder is small and exact: 4:4:4 YCbCr,
 * a quantizer of 8 for every coefficient, a Huffman table with a 4-bit code per DC category and a 1-bit
 * end-of-block code. A 12-MP image is a few hundred kB and costs the test no encoder library. `progressive` makes
 * a progressive JPEG of one scan, the DC one (the AC coefficients, all zero, need none); `cmyk` a four-component
 * JPEG whose blocks' values are used as they are (the fourth is 255 - the first).
 */
export function makeBlockJpeg(
  width: number,
  height: number,
  block: (x: number, y: number) => [number, number, number],
  { progressive = false, cmyk = false } = {},
): Uint8Array {
  expect(width % 8 === 0 && height % 8 === 0).toBe(true);
  const components = cmyk ? 4 : 3;
  const ids = Array.from({ length: components }, (_, i) => i + 1);
  const segment = (marker: number, body: number[]) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const header = [
    0xff, 0xd8,
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(8)]),
    ...segment(progressive ? 0xc2 : 0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components, ...ids.flatMap((id) => [id, 0x11, 0])]),
    ...segment(0xc4, [0x00, 0, 0, 0, 12, ...new Array<number>(12).fill(0), ...Array.from({ length: 12 }, (_, i) => i)]),
    ...segment(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]),
    ...segment(0xda, [components, ...ids.flatMap((id) => [id, 0x00]), 0, progressive ? 0 : 63, 0]),
  ];
  const blocks = (width / 8) * (height / 8);
  const data = new Uint8Array(header.length + blocks * 12 + 4);
  data.set(header);
  let length = header.length;
  let bits = 0;
  let bitCount = 0;
  const put = (value: number, count: number) => {
    bits = (bits << count) | (value & ((1 << count) - 1));
    bitCount += count;
    while (bitCount >= 8) {
      const byte = (bits >> (bitCount - 8)) & 0xff;
      data[length++] = byte;
      if (byte === 0xff) data[length++] = 0x00; // byte stuffing
      bitCount -= 8;
    }
    bits &= (1 << bitCount) - 1;
  };
  const previous = [0, 0, 0, 0];
  for (let y = 0; y < height; y += 8) {
    for (let x = 0; x < width; x += 8) {
      const [r, g, b] = block(x, y);
      const values = cmyk
        ? [r, g, b, 255 - r]
        : [0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 128 + 0.5 * r - 0.418688 * g - 0.081312 * b];
      values.forEach((value, c) => {
        // DC = 8 x (mean - 128), quantized by 8.
        const dc = Math.round(Math.min(255, Math.max(0, value))) - 128;
        const diff = dc - previous[c]!;
        previous[c] = dc;
        const category = 32 - Math.clz32(Math.abs(diff)); // bits of |diff|
        put(category, 4);
        if (category > 0) put(diff > 0 ? diff : diff + (1 << category) - 1, category);
        if (!progressive) put(0, 1); // end of block
      });
    }
  }
  if (bitCount > 0) put(0x7f, 8 - bitCount); // pad with 1-bits
  data.set([0xff, 0xd9], length);
  return data.slice(0, length + 2);
}
