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
