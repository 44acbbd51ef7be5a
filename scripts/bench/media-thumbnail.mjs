// Thumbnails of a 12-megapixel JPEG (issue #6): the time of each uncached 320x240 thumbnail, and the resident
// memory of the local server's process tree (wrangler + workerd) while they are made, sampled every 10 ms.
import { PhotonImage } from "@cf-wasm/photon";
import { registerUser } from "./client.mjs";
import { summarize, treeRssKb } from "./stats.mjs";

const WIDTH = 4000;
const HEIGHT = 3000;

/** A photo-like 4000x3000 baseline JPEG (gradients, a wave and per-pixel noise, quality 85): about 5 MB. */
function photoLikeJpeg() {
  const raw = new Uint8ClampedArray(WIDTH * HEIGHT * 4);
  let x = 0x2545f491;
  for (let y = 0; y < HEIGHT; y++) {
    for (let i = 0; i < WIDTH; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const noise = (x & 63) - 32;
      const o = (y * WIDTH + i) * 4;
      raw[o] = (i * 255) / WIDTH + noise;
      raw[o + 1] = (y * 255) / HEIGHT + noise;
      raw[o + 2] = 128 + 100 * Math.sin(i / 50) + noise;
      raw[o + 3] = 255;
    }
  }
  const image = new PhotonImage(new Uint8Array(raw.buffer), WIDTH, HEIGHT);
  try {
    return image.get_bytes_jpeg(85);
  } finally {
    image.free();
  }
}

/** Width and height from a JPEG's start-of-frame, read independently of the server. */
function jpegSize(bytes) {
  for (let at = 2; at + 9 < bytes.length; at += 2 + bytes.readUInt16BE(at + 2)) {
    const marker = bytes[at + 1];
    if (marker >= 0xc0 && marker <= 0xc2) return `${bytes.readUInt16BE(at + 7)}x${bytes.readUInt16BE(at + 5)}`;
  }
  return "none";
}

async function uploadJpeg(base, token, jpeg) {
  const res = await fetch(`${base}/_matrix/media/v3/upload?filename=photo.jpg`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "image/jpeg" },
    body: jpeg,
    signal: AbortSignal.timeout(60_000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`upload -> ${res.status} ${JSON.stringify(json)}`);
  return json.content_uri.slice("mxc://".length);
}

/**
 * Uncached 320x240 thumbnails of a 12-MP camera-like JPEG; `pid` is the server's process (wrangler), whose tree's
 * memory is sampled. Every thumbnail is of a fresh upload, so none comes from the R2 cache; the uploads happen
 * before memory is watched.
 */
export async function jpegThumbnail({ base, quick, pid }) {
  const user = await registerUser(base, "thumb");
  const jpeg = photoLikeJpeg();
  const media = [];
  for (let i = 0; i < (quick ? 3 : 10); i++) media.push(await uploadJpeg(base, user.token, jpeg));
  const beforeKb = treeRssKb(pid);
  let peakKb = beforeKb;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, treeRssKb(pid))), 10);
  const samples = [];
  const t0 = performance.now();
  try {
    for (const mxc of media) {
      const start = performance.now();
      const res = await fetch(`${base}/_matrix/client/v1/media/thumbnail/${mxc}?width=320&height=240&method=scale`, {
        headers: { authorization: `Bearer ${user.token}` },
        signal: AbortSignal.timeout(60_000),
      });
      const body = Buffer.from(await res.arrayBuffer());
      samples.push(performance.now() - start);
      const size = jpegSize(body);
      if (!res.ok || res.headers.get("content-type") !== "image/jpeg" || size !== "320x240") throw new Error(`thumbnail -> ${res.status}, ${size}`);
    }
  } finally {
    clearInterval(sampler);
  }
  const mb = (kb) => (kb / 1024).toFixed(0);
  const note = `${(jpeg.length / 1e6).toFixed(1)} MB baseline file; server tree RSS peak ${mb(peakKb)} MB (+${mb(peakKb - beforeKb)} MB over ${mb(beforeKb)} MB before)`;
  return [summarize("thumbnail of a 12-MP JPEG (4000x3000) -> 320x240, uncached", samples, performance.now() - t0, note)];
}
