import { PhotonImage } from "@cf-wasm/photon";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readImageInfo } from "../../src/media/image-size";
import { decodeJpeg, jpegScaleFor } from "../../src/media/jpeg-decode";
import { chooseThumbnail, scaledSize, thumbnailPlan } from "../../src/media/thumbnail";
import { call, expectError, registerUser } from "../helpers";
import { makeBlockJpeg, makePng, mediaIdOf, pngSize, send, upload } from "./media-helpers";

const thumbnail = (token: string, mediaId: string, query: string, testEnv?: Partial<Record<keyof Env, unknown>>) =>
  send("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${mediaId}?${query}`, { token, ...(testEnv ? { env: testEnv } : {}) });

describe("thumbnail sizing (pure)", () => {
  it("serves requests from the smallest recommended size of the same method that covers them", () => {
    expect(chooseThumbnail({ width: 20, height: 20, method: "crop" })).toEqual({ width: 32, height: 32, method: "crop" });
    expect(chooseThumbnail({ width: 64, height: 64, method: "crop" })).toEqual({ width: 96, height: 96, method: "crop" });
    expect(chooseThumbnail({ width: 100, height: 100, method: "scale" })).toEqual({ width: 320, height: 240, method: "scale" });
    expect(chooseThumbnail({ width: 800, height: 600, method: "scale" })).toEqual({ width: 800, height: 600, method: "scale" });
    // Nothing recommended covers it: made at the requested size, never smaller.
    expect(chooseThumbnail({ width: 200, height: 200, method: "crop" })).toEqual({ width: 200, height: 200, method: "crop" });
    expect(chooseThumbnail({ width: 1000, height: 100, method: "scale" })).toEqual({ width: 1000, height: 100, method: "scale" });
  });

  it("scales into the box keeping the aspect, and never upscales", () => {
    expect(scaledSize({ width: 2200, height: 1650 }, { width: 320, height: 240 })).toEqual({ width: 320, height: 240 });
    expect(scaledSize({ width: 1000, height: 200 }, { width: 320, height: 240 })).toEqual({ width: 320, height: 64 });
    expect(scaledSize({ width: 300, height: 200 }, { width: 320, height: 240 })).toBeNull();
  });

  it("reads dimensions from PNG, GIF, JPEG and WebP headers", async () => {
    expect(readImageInfo(await makePng(7, 5, () => [0, 0, 0]))).toEqual({ format: "png", width: 7, height: 5 });
    const gif = new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x0a, 0x00, 0x14, 0x00, 0, 0, 0]);
    expect(readImageInfo(gif)).toEqual({ format: "gif", width: 10, height: 20 });
    const jpeg = new PhotonImage(new Uint8Array(33 * 17 * 4).fill(200), 33, 17).get_bytes_jpeg(80);
    expect(readImageInfo(jpeg)).toEqual({ format: "jpeg", width: 33, height: 17 });
    const webp = new PhotonImage(new Uint8Array(9 * 4 * 4).fill(90), 9, 4).get_bytes_webp();
    expect(readImageInfo(webp)).toEqual({ format: "webp", width: 9, height: 4 });
    expect(readImageInfo(new TextEncoder().encode("not an image at all, just text"))).toBeNull();
  });
});

describe("GET /_matrix/client/v1/media/thumbnail", () => {
  it("makes a 320x240 thumbnail of a 10 MB PNG, and serves it again from the R2 cache", async () => {
    const alice = await registerUser("alice");
    const png = await makePng(2200, 1650);
    expect(png.byteLength).toBeGreaterThan(10_000_000);
    const mediaId = mediaIdOf((await upload(alice.accessToken, png, { contentType: "image/png", filename: "big.png" })).json["content_uri"]);

    const started = Date.now();
    const res = await thumbnail(alice.accessToken, mediaId, "width=320&height=240&method=scale");
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("content-disposition")).toBe('inline; filename="thumbnail.png"');
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(pngSize(bytes)).toEqual({ width: 320, height: 240 });
    console.log(`thumbnail of a ${(png.byteLength / 1e6).toFixed(1)} MB 2200x1650 PNG to 320x240: ${elapsed} ms`);

    expect(await env.MEDIA.head(`thumbnails/${mediaId}/320x240-scale`)).not.toBeNull();
    const again = await thumbnail(alice.accessToken, mediaId, "width=300&height=200");
    expect(again.status).toBe(200);
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(bytes);
  }, 60_000);

  it("crops to the recommended square, keeping the middle", async () => {
    const alice = await registerUser("alice");
    // Left third red, middle green, right third blue: a centre crop of the 3:1 image is all green.
    const png = await makePng(600, 200, (x) => (x < 200 ? [255, 0, 0] : x < 400 ? [0, 255, 0] : [0, 0, 255]));
    const mediaId = mediaIdOf((await upload(alice.accessToken, png, { contentType: "image/png" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=90&height=90&method=crop");
    expect(res.status).toBe(200);
    const out = new Uint8Array(await res.arrayBuffer());
    expect(pngSize(out)).toEqual({ width: 96, height: 96 });
    const decoded = PhotonImage.new_from_byteslice(out);
    const pixels = decoded.get_raw_pixels();
    const [r, g, b] = [pixels[0]!, pixels[1]!, pixels[2]!];
    expect(g).toBeGreaterThan(200);
    expect(r + b).toBeLessThan(40);
    decoded.free();
  });

  it("gives JPEG thumbnails for JPEG sources", async () => {
    const alice = await registerUser("alice");
    const jpeg = new PhotonImage(new Uint8Array(1000 * 800 * 4).fill(128), 1000, 800).get_bytes_jpeg(85);
    const mediaId = mediaIdOf((await upload(alice.accessToken, jpeg, { contentType: "image/jpeg" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=640&height=480");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(readImageInfo(new Uint8Array(await res.arrayBuffer()))).toEqual({ format: "jpeg", width: 600, height: 480 });
  });

  it("thumbnails WebP sources to PNG", async () => {
    const alice = await registerUser("alice");
    const webp = new PhotonImage(new Uint8Array(400 * 400 * 4).fill(77), 400, 400).get_bytes_webp();
    const mediaId = mediaIdOf((await upload(alice.accessToken, webp, { contentType: "image/webp" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=32&height=32&method=crop");
    expect(res.status).toBe(200);
    expect(pngSize(new Uint8Array(await res.arrayBuffer()))).toEqual({ width: 32, height: 32 });
  });

  it("returns the original when it is already smaller than asked (never upscales)", async () => {
    const alice = await registerUser("alice");
    const png = await makePng(50, 40, () => [1, 2, 3]);
    const mediaId = mediaIdOf((await upload(alice.accessToken, png, { contentType: "image/png" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=320&height=240");
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(png);
  });

  it("refuses non-images with 400 M_UNKNOWN, and images over the pixel or byte limits with 413 M_TOO_LARGE", async () => {
    const alice = await registerUser("alice");
    const text = mediaIdOf((await upload(alice.accessToken, new TextEncoder().encode("hello"), { contentType: "text/plain" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${text}?width=32&height=32`, { token: alice.accessToken }), 400, "M_UNKNOWN");

    const lying = mediaIdOf((await upload(alice.accessToken, new TextEncoder().encode("not really a png"), { contentType: "image/png" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${lying}?width=32&height=32`, { token: alice.accessToken }), 400, "M_UNKNOWN");

    const png = await makePng(400, 300, () => [9, 9, 9]);
    const image = mediaIdOf((await upload(alice.accessToken, png, { contentType: "image/png" })).json["content_uri"]);
    const path = `/_matrix/client/v1/media/thumbnail/localhost:8787/${image}?width=32&height=32&method=crop`;
    expectError(await call("GET", path, { token: alice.accessToken, env: { MEDIA_THUMBNAIL_MAX_PIXELS: "100000" } }), 413, "M_TOO_LARGE");
    expectError(await call("GET", path, { token: alice.accessToken, env: { MEDIA_THUMBNAIL_MAX_SOURCE_BYTES: "100" } }), 413, "M_TOO_LARGE");
  });

  it("refuses a corrupt image (valid header, truncated data) with 400, and keeps thumbnailing afterwards", async () => {
    const alice = await registerUser("alice");
    const png = await makePng(300, 300);
    const broken = mediaIdOf((await upload(alice.accessToken, png.slice(0, 5000), { contentType: "image/png" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${broken}?width=32&height=32`, { token: alice.accessToken }), 400, "M_UNKNOWN");
    const good = mediaIdOf((await upload(alice.accessToken, png, { contentType: "image/png" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, good, "width=32&height=32&method=crop");
    expect(res.status).toBe(200);
    expect(pngSize(new Uint8Array(await res.arrayBuffer()))).toEqual({ width: 32, height: 32 });
  });

  it("validates width, height and method", async () => {
    const alice = await registerUser("alice");
    const base = "/_matrix/client/v1/media/thumbnail/localhost:8787/AAAAAAAA";
    expectError(await call("GET", `${base}?width=-1&height=32`, { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", `${base}?width=1.5&height=32`, { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", `${base}?width=32`, { token: alice.accessToken }), 400, "M_MISSING_PARAM");
    expectError(await call("GET", `${base}?width=32&height=32&method=stretch`, { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", `${base}?width=32&height=32`), 401, "M_MISSING_TOKEN");
  });
});

type Rgb = [number, number, number];
const RED: Rgb = [220, 30, 30];
const GREEN: Rgb = [30, 200, 40];
const BLUE: Rgb = [30, 40, 220];
const WHITE: Rgb = [240, 240, 240];
const BLACK: Rgb = [0, 0, 0];

/**
 * A 12-MP (4000x3000) photo-sized JPEG: black bands 400 px wide down both sides, and between them four colour
 * quadrants (red, green / blue, white), split at x = 2000 and y = 1504.
 */
function twelveMegapixelJpeg(): Uint8Array {
  return makeBlockJpeg(4000, 3000, (x, y) => {
    if (x < 400 || x >= 3600) return BLACK;
    if (y < 1504) return x < 2000 ? RED : GREEN;
    return x < 2000 ? BLUE : WHITE;
  });
}

/** The colour at (x, y) of a decoded thumbnail, each channel within `tolerance` of the expected one. */
function expectColour(image: PhotonImage, x: number, y: number, expected: Rgb, tolerance = 24): void {
  const pixels = image.get_raw_pixels();
  const at = (y * image.get_width() + x) * 4;
  const actual = [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `pixel (${x}, ${y}) ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

describe("12-megapixel JPEG thumbnails (decoded at reduced scale)", () => {
  it("plans the DCT scale from the size needed, and decodes a 12-MP JPEG at 1/8 in a few MB of wasm memory", () => {
    expect(jpegScaleFor({ width: 4000, height: 3000 }, { width: 320, height: 240 })).toBe(1);
    expect(jpegScaleFor({ width: 4000, height: 3000 }, { width: 800, height: 600 })).toBe(2);
    expect(jpegScaleFor({ width: 4000, height: 3000 }, { width: 1600, height: 1200 })).toBe(4);
    expect(jpegScaleFor({ width: 640, height: 480 }, { width: 600, height: 450 })).toBe(8);
    expect(thumbnailPlan({ width: 4000, height: 3000 }, { width: 96, height: 96, method: "crop" })).toEqual({
      resize: { width: 128, height: 96 },
      crop: { x: 16, y: 0, width: 96, height: 96 },
    });

    const jpeg = twelveMegapixelJpeg();
    const decoded = decodeJpeg(jpeg, { width: 4000, height: 3000 }, 1);
    expect([decoded.width, decoded.height]).toEqual([500, 375]);
    // A whole decode would need 48 MB for the RGBA output alone.
    expect(decoded.memoryBytes).toBeLessThan(8 * 1024 * 1024);
    const pixel = (x: number, y: number) => Array.from(decoded.pixels.subarray((y * 500 + x) * 4, (y * 500 + x) * 4 + 3));
    for (const [[x, y], colour] of [[[10, 100], BLACK], [[100, 50], RED], [[400, 50], GREEN], [[100, 300], BLUE], [[400, 300], WHITE]] as const) {
      pixel(x, y).forEach((value, i) => expect(Math.abs(value - colour[i]!)).toBeLessThanOrEqual(3));
    }
  });

  it("makes 320x240 scale and crop thumbnails and a 96x96 crop of a 12-MP JPEG, with the right pixels", async () => {
    const alice = await registerUser("alice");
    const jpeg = twelveMegapixelJpeg();
    const mediaId = mediaIdOf((await upload(alice.accessToken, jpeg, { contentType: "image/jpeg", filename: "photo.jpg" })).json["content_uri"]);

    // 320x240 by either method: the 4:3 source fits the box exactly, so both keep the whole picture.
    for (const method of ["scale", "crop"]) {
      const res = await thumbnail(alice.accessToken, mediaId, `width=320&height=240&method=${method}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/jpeg");
      const image = PhotonImage.new_from_byteslice(new Uint8Array(await res.arrayBuffer()));
      expect([image.get_width(), image.get_height()]).toEqual([320, 240]);
      // The bands are 32 px wide at this scale; the quadrants meet at (160, 120).
      expectColour(image, 10, 120, BLACK);
      expectColour(image, 310, 120, BLACK);
      expectColour(image, 90, 60, RED);
      expectColour(image, 230, 60, GREEN);
      expectColour(image, 90, 180, BLUE);
      expectColour(image, 230, 180, WHITE);
      image.free();
    }

    // Cropped to the middle 3000x3000 of the original: no band is left, the quadrants meet at (48, 48).
    const cropped = await thumbnail(alice.accessToken, mediaId, "width=90&height=90&method=crop");
    expect(cropped.status).toBe(200);
    const croppedImage = PhotonImage.new_from_byteslice(new Uint8Array(await cropped.arrayBuffer()));
    expect([croppedImage.get_width(), croppedImage.get_height()]).toEqual([96, 96]);
    expectColour(croppedImage, 2, 20, RED);
    expectColour(croppedImage, 93, 20, GREEN);
    expectColour(croppedImage, 2, 76, BLUE);
    expectColour(croppedImage, 93, 76, WHITE);
    croppedImage.free();
  }, 60_000);

  it("keeps only the part of a JPEG that a crop without resizing needs", async () => {
    const alice = await registerUser("alice");
    // 2400x64 is less tall than the 96x96 box, so it is only cut: columns 1152 to 1247, all 64 rows.
    const strip = makeBlockJpeg(2400, 64, (x) => (x < 1176 ? RED : x < 1224 ? GREEN : BLUE));
    const mediaId = mediaIdOf((await upload(alice.accessToken, strip, { contentType: "image/jpeg" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=96&height=96&method=crop");
    expect(res.status).toBe(200);
    const image = PhotonImage.new_from_byteslice(new Uint8Array(await res.arrayBuffer()));
    expect([image.get_width(), image.get_height()]).toEqual([96, 64]);
    expectColour(image, 10, 32, RED);
    expectColour(image, 48, 32, GREEN);
    expectColour(image, 85, 32, BLUE);
    image.free();

    // Only cut means decoded whole, so the whole-decode limit applies.
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${mediaId}?width=200&height=200&method=crop`, { token: alice.accessToken, env: { MEDIA_THUMBNAIL_MAX_PIXELS: "100000" } }), 413, "M_TOO_LARGE");
  });

  it("decodes progressive JPEGs too, but holds them to the whole-decode limit (their decoder keeps every coefficient)", async () => {
    const alice = await registerUser("alice");
    const colours = (x: number, y: number): Rgb => (y < 896 ? (x < 1200 ? RED : GREEN) : x < 1200 ? BLUE : WHITE);
    const small = makeBlockJpeg(2400, 1800, colours, { progressive: true });
    expect(readImageInfo(small)).toEqual({ format: "jpeg", width: 2400, height: 1800, multiScan: true });
    const mediaId = mediaIdOf((await upload(alice.accessToken, small, { contentType: "image/jpeg" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=320&height=240&method=scale");
    expect(res.status).toBe(200);
    const image = PhotonImage.new_from_byteslice(new Uint8Array(await res.arrayBuffer()));
    expect([image.get_width(), image.get_height()]).toEqual([320, 240]);
    expectColour(image, 60, 60, RED);
    expectColour(image, 260, 60, GREEN);
    expectColour(image, 60, 180, BLUE);
    expectColour(image, 260, 180, WHITE);
    image.free();

    const large = makeBlockJpeg(4000, 3000, colours, { progressive: true });
    const largeId = mediaIdOf((await upload(alice.accessToken, large, { contentType: "image/jpeg" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${largeId}?width=32&height=32`, { token: alice.accessToken }), 413, "M_TOO_LARGE");
  }, 60_000);

  it("thumbnails CMYK JPEGs (which libjpeg-turbo cannot make RGB) with Photon, within the whole-decode limit", async () => {
    const alice = await registerUser("alice");
    const cmyk = makeBlockJpeg(640, 480, () => [10, 200, 30], { cmyk: true });
    const mediaId = mediaIdOf((await upload(alice.accessToken, cmyk, { contentType: "image/jpeg" })).json["content_uri"]);
    const res = await thumbnail(alice.accessToken, mediaId, "width=320&height=240&method=scale");
    expect(res.status).toBe(200);
    expect(readImageInfo(new Uint8Array(await res.arrayBuffer()))).toEqual({ format: "jpeg", width: 320, height: 240 });
    // Over that limit, it cannot be decoded at all.
    const path = `/_matrix/client/v1/media/thumbnail/localhost:8787/${mediaId}?width=96&height=96&method=crop`;
    expectError(await call("GET", path, { token: alice.accessToken, env: { MEDIA_THUMBNAIL_MAX_PIXELS: "100000" } }), 400, "M_UNKNOWN");
  });

  it("refuses JPEGs over MEDIA_THUMBNAIL_MAX_JPEG_PIXELS with 413, and corrupt JPEG data with 400", async () => {
    const alice = await registerUser("alice");
    const jpeg = twelveMegapixelJpeg();
    const mediaId = mediaIdOf((await upload(alice.accessToken, jpeg, { contentType: "image/jpeg" })).json["content_uri"]);
    const path = `/_matrix/client/v1/media/thumbnail/localhost:8787/${mediaId}?width=32&height=32&method=crop`;
    expectError(await call("GET", path, { token: alice.accessToken, env: { MEDIA_THUMBNAIL_MAX_JPEG_PIXELS: "11999999" } }), 413, "M_TOO_LARGE");
    // The whole-decode limit does not apply to JPEGs.
    const res = await thumbnail(alice.accessToken, mediaId, "width=32&height=32&method=crop", { MEDIA_THUMBNAIL_MAX_PIXELS: "100000" });
    expect(res.status).toBe(200);

    const truncated = mediaIdOf((await upload(alice.accessToken, jpeg.slice(0, jpeg.byteLength / 2), { contentType: "image/jpeg" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${truncated}?width=32&height=32`, { token: alice.accessToken }), 400, "M_UNKNOWN");
    const garbled = jpeg.slice();
    garbled.fill(0x5a, 700, 20_000); // entropy-coded data that decodes to nonsense
    const bad = mediaIdOf((await upload(alice.accessToken, garbled, { contentType: "image/jpeg" })).json["content_uri"]);
    expectError(await call("GET", `/_matrix/client/v1/media/thumbnail/localhost:8787/${bad}?width=32&height=32`, { token: alice.accessToken }), 400, "M_UNKNOWN");
    // The decoder recovers from the error (a fresh instance): a new size of the good image is made.
    const again = await thumbnail(alice.accessToken, mediaId, "width=320&height=240&method=scale");
    expect(again.status).toBe(200);
  }, 60_000);
});

