import { createHash } from "node:crypto";
import { type Server, createServer } from "node:http";
import { crc32, deflateSync } from "node:zlib";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, baseUrl, raw, registeredClient } from "./client";

/** Deterministic incompressible bytes (xorshift32), so a failure is reproducible. */
function deterministicBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
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

/** An RGB noise PNG (about 3 bytes a pixel), written with node:zlib. */
function makePng(width: number, height: number): Uint8Array<ArrayBuffer> {
  const raw = deterministicBytes((1 + width * 3) * height, width + height);
  for (let y = 0; y < height; y++) raw[y * (1 + width * 3)] = 0;
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.byteLength);
    out.writeUInt32BE(data.byteLength, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.byteLength);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 1 })), chunk("IEND", Buffer.alloc(0))]));
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const mb = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);

async function login(prefix: string) {
  const { client } = await registeredClient(prefix);
  return { client, token: client.getAccessToken()!, userId: client.getUserId()! };
}

function mediaPath(contentUri: string, kind: "download" | "thumbnail" = "download"): string {
  const match = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(contentUri);
  expect(match).not.toBeNull();
  return `/_matrix/client/v1/media/${kind}/${match![1]}/${match![2]}`;
}

async function download(path: string, token: string | null, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl()}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

describe("media against the real Worker (wrangler dev, local R2)", () => {
  it("advertises v1.11, so clients use the authenticated media endpoints", async () => {
    const { client } = await login("mediaver");
    expect((await client.getVersions()).versions).toContain("v1.11");
    expect(await client.getMediaConfig(true)).toEqual({ "m.upload.size": 100000000 });
  });

  it("answers JSON that matches the spec's OpenAPI definitions (when MATRIX_SPEC_DIR is set)", async () => {
    const { token } = await login("mediaopenapi");
    expect((await api("GET", "/_matrix/client/v1/media/config", { token })).status).toBe(200);
    expect((await api("GET", "/_matrix/media/v3/config", { token })).status).toBe(200);
    const created = await api("POST", "/_matrix/media/v1/create", { token });
    expect(created.status).toBe(200);
    const path = mediaPath(created.body["content_uri"] as string);
    expect((await api("GET", `${path}?timeout_ms=0`, { token })).status).toBe(504);
    // 404 is in the prose ("MAY return 404 M_NOT_FOUND" after the freeze) but not in the definitions' responses.
    expect((await raw("GET", path.replace("/_matrix/client/v1/media/", "/_matrix/media/v3/"))).body["errcode"]).toBe("M_NOT_FOUND");
  });

  it("round-trips 50 MB byte for byte (Content-Length upload, streamed download)", async () => {
    const { token } = await login("media50");
    const bytes = deterministicBytes(50 * 1024 * 1024, 50);
    const upStart = performance.now();
    const up = await fetch(`${baseUrl()}/_matrix/media/v3/upload?filename=big.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
    const upMs = performance.now() - upStart;
    expect(up.status).toBe(200);
    const { content_uri } = (await up.json()) as { content_uri: string };

    const downStart = performance.now();
    const res = await download(mediaPath(content_uri), token);
    const received = new Uint8Array(await res.arrayBuffer());
    const downMs = performance.now() - downStart;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(bytes.byteLength));
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="big.bin"');
    expect(received.byteLength).toBe(bytes.byteLength);
    expect(sha256(received)).toBe(sha256(bytes));
    console.log(`50 MiB: upload ${upMs.toFixed(0)} ms (${mb(bytes.byteLength, upMs)} MB/s), download ${downMs.toFixed(0)} ms (${mb(bytes.byteLength, downMs)} MB/s)`);

    const ranged = await download(mediaPath(content_uri), token, { range: "bytes=40000000-40000099" });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 40000000-40000099/${bytes.byteLength}`);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(bytes.subarray(40_000_000, 40_000_100));
  }, 120_000);

  it("round-trips a chunked upload (no Content-Length) of 20 MB", async () => {
    const { token } = await login("mediachunk");
    const bytes = deterministicBytes(20 * 1024 * 1024 + 7, 20);
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + 256 * 1024));
        offset += 256 * 1024;
      },
    });
    const up = await fetch(`${baseUrl()}/_matrix/media/v3/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(up.status).toBe(200);
    const { content_uri } = (await up.json()) as { content_uri: string };
    const res = await download(mediaPath(content_uri), token);
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(bytes));
  }, 120_000);

  it("uploads with matrix-js-sdk uploadContent and downloads through the authenticated endpoint", async () => {
    const alice = await login("mediasdk");
    const bob = await login("mediasdkbob");
    const text = "hello from matrix-js-sdk \u2603";
    const { content_uri } = await alice.client.uploadContent(Buffer.from(text, "utf8"), { name: "greeting.txt", type: "text/plain" });
    expect(content_uri).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]{24}$/);

    const url = alice.client.mxcUrlToHttp(content_uri, undefined, undefined, undefined, false, true, true);
    expect(url?.startsWith(`${baseUrl()}${mediaPath(content_uri)}`)).toBe(true);
    const asBob = await fetch(url!, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(asBob.status).toBe(200);
    expect(await asBob.text()).toBe(text);
    expect(asBob.headers.get("content-type")).toBe("text/plain");
    expect(asBob.headers.get("content-disposition")).toBe('inline; filename="greeting.txt"');
    expect(asBob.headers.get("content-security-policy")).toMatch(/^sandbox;/);
    expect(asBob.headers.get("x-content-type-options")).toBe("nosniff");
    expect(asBob.headers.get("cross-origin-resource-policy")).toBe("cross-origin");

    const anonymous = await raw("GET", mediaPath(content_uri));
    expect(anonymous.status).toBe(401);
    expect(anonymous.body["errcode"]).toBe("M_MISSING_TOKEN");
    const legacy = await raw("GET", mediaPath(content_uri).replace("/_matrix/client/v1/media/", "/_matrix/media/v3/"), { token: alice.token });
    expect(legacy.status).toBe(404);
    expect(legacy.body["errcode"]).toBe("M_NOT_FOUND");
  });

  it("thumbnails a 10 MB PNG to 320x240 through the SDK's thumbnail URL", async () => {
    const { client, token } = await login("mediathumb");
    const png = makePng(2200, 1650);
    const { content_uri } = await client.uploadContent(png, { name: "big.png", type: "image/png" });
    const url = client.mxcUrlToHttp(content_uri, 320, 240, "scale", false, true, true);
    const started = performance.now();
    const res = await fetch(url!, { headers: { authorization: `Bearer ${token}` } });
    const thumbnail = Buffer.from(await res.arrayBuffer());
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect([thumbnail.readUInt32BE(16), thumbnail.readUInt32BE(20)]).toEqual([320, 240]);
    console.log(`thumbnail of a ${(png.byteLength / 1e6).toFixed(1)} MB 2200x1650 PNG under wrangler dev: ${ms.toFixed(0)} ms`);
  }, 60_000);

  it("uses the asynchronous create + PUT flow over HTTP", async () => {
    const { token } = await login("mediaasync");
    const created = await raw("POST", "/_matrix/media/v1/create", { token });
    expect(created.status).toBe(200);
    const contentUri = created.body["content_uri"] as string;
    const notYet = await raw("GET", `${mediaPath(contentUri)}?timeout_ms=0`, { token });
    expect(notYet.status).toBe(504);
    expect(notYet.body["errcode"]).toBe("M_NOT_YET_UPLOADED");
    const put = await fetch(`${baseUrl()}${mediaPath(contentUri).replace("/_matrix/client/v1/media/download/", "/_matrix/media/v3/upload/")}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(put.status).toBe(200);
    const res = await download(mediaPath(contentUri), token);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("survives a client that sends less than its Content-Length and hangs up: the id stays empty and re-uploadable", async () => {
    const { token } = await login("mediatrunc");
    const created = await raw("POST", "/_matrix/media/v1/create", { token });
    const contentUri = created.body["content_uri"] as string;
    const uploadPath = mediaPath(contentUri).replace("/_matrix/client/v1/media/download/", "/_matrix/media/v3/upload/");
    const { hostname, port } = new URL(baseUrl());
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`PUT ${uploadPath} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
        socket.write(Buffer.alloc(1000, 1), () => setTimeout(() => socket.destroy(), 200));
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    // The aborted PUT gives the id back once the Worker sees the body end early.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const notYet = await raw("GET", `${mediaPath(contentUri)}?timeout_ms=0`, { token });
      expect(notYet.status).toBe(504);
      const retry = await fetch(`${baseUrl()}${uploadPath}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
        body: new Uint8Array([7, 7]),
      });
      status = retry.status;
      if (status !== 200) {
        expect(status).toBe(409);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(status).toBe(200);
    const res = await download(mediaPath(contentUri), token);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([7, 7]));
  });

  describe("URL previews", () => {
    let server: Server;
    let pageUrl: string;
    let pageFetches = 0;
    const previewImage = makePng(60, 30);
    beforeAll(async () => {
      server = createServer((req, res) => {
        pageFetches++;
        if (req.url === "/image.png") {
          res.writeHead(200, { "content-type": "image/png" }).end(previewImage);
          return;
        }
        if (req.url === "/redirect") {
          res.writeHead(302, { location: "/page" }).end();
          return;
        }
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(`<html><head><title>Fallback</title><meta property="og:title" content="A &amp; B"><meta property="og:description" content="Preview me"><meta property="og:image" content="/image.png"></head><body>${"x".repeat(1000)}</body></html>`);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("fetches OpenGraph data through matrix-js-sdk (authenticated endpoint), following a redirect", async () => {
      const { client } = await login("mediapreview");
      const preview = await client.getUrlPreview(`${pageUrl}/redirect`, Date.now());
      const { "og:image": image, ...rest } = preview;
      expect(rest).toEqual({
        "og:title": "A & B",
        "og:description": "Preview me",
        "og:image:type": "image/png",
        "og:image:width": 60,
        "og:image:height": 30,
        "matrix:image:size": previewImage.byteLength,
      });
      // The image is served as local media, by its mxc URI, through the authenticated endpoint.
      expect(image).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]{24}$/);
      const stored = await download(mediaPath(String(image)), client.getAccessToken());
      expect(new Uint8Array(await stored.arrayBuffer())).toEqual(previewImage);
      const fetchesBefore = pageFetches;
      expect(await client.getUrlPreview(`${pageUrl}/redirect`, Date.now())).toEqual(preview);
      expect(pageFetches).toBe(fetchesBefore);
    });

    it("previews a URL that is itself an image", async () => {
      const { client } = await login("mediapreviewimg");
      const preview = await client.getUrlPreview(`${pageUrl}/image.png`, Date.now());
      expect(preview["og:image"]).toMatch(/^mxc:\/\/localhost\//);
      expect(preview["matrix:image:size"]).toBe(previewImage.byteLength);
    });
  });
});
