import { PhotonImage } from "@cf-wasm/photon";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readImageInfo } from "../../src/media/image-size";
import { chooseThumbnail, scaledSize } from "../../src/media/thumbnail";
import { call, expectError, registerUser } from "../helpers";
import { makePng, mediaIdOf, pngSize, send, upload } from "./media-helpers";

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
