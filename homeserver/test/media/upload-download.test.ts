import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expectError, registerUser } from "../helpers";
import { deterministicBytes, mediaIdOf, mediaKeys, send, sha256, streamOf, upload } from "./media-helpers";

const download = (mediaId: string, token?: string, extra = "", headers: Record<string, string> = {}) =>
  send("GET", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}${extra}`, { ...(token ? { token } : {}), headers });

async function countRows(userId: string): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM media WHERE user_id = ?").bind(userId).first<number>("n")) ?? 0;
}

function expectSecurityHeaders(headers: Headers): void {
  expect(headers.get("content-security-policy")).toMatch(/^sandbox; default-src 'none';/);
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  expect(headers.get("cross-origin-resource-policy")).toBe("cross-origin");
}

describe("upload and download", () => {
  it("round-trips a 1-byte file byte for byte, with type, disposition and security headers", async () => {
    const alice = await registerUser("alice");
    const up = await upload(alice.accessToken, new Uint8Array([0xa7]), { contentType: "image/png", filename: "dot.png" });
    expect(up.status).toBe(200);
    expectSecurityHeaders(up.headers);
    const mediaId = mediaIdOf(up.json["content_uri"]);
    expect(mediaId).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const res = await download(mediaId, alice.accessToken);
    expect(res.status).toBe(200);
    expect(Array.from(new Uint8Array(await res.arrayBuffer()))).toEqual([0xa7]);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("content-length")).toBe("1");
    expect(res.headers.get("content-disposition")).toBe('inline; filename="dot.png"');
    expectSecurityHeaders(res.headers);
  });

  it("round-trips 20 MB sent without Content-Length (multipart into R2)", async () => {
    const alice = await registerUser("alice");
    const bytes = deterministicBytes(20 * 1024 * 1024 + 12345);
    const up = await upload(alice.accessToken, streamOf(bytes, 1 << 20));
    expect(up.status).toBe(200);
    const res = await download(mediaIdOf(up.json["content_uri"]), alice.accessToken);
    expect(res.status).toBe(200);
    const received = await res.arrayBuffer();
    expect(received.byteLength).toBe(bytes.byteLength);
    expect(await sha256(received)).toBe(await sha256(bytes));
  });

  it("round-trips a file sent with an exact Content-Length", async () => {
    const alice = await registerUser("alice");
    const bytes = deterministicBytes(300_000, 7);
    const up = await upload(alice.accessToken, streamOf(bytes), { headers: { "content-length": String(bytes.byteLength) } });
    expect(up.status).toBe(200);
    const res = await download(mediaIdOf(up.json["content_uri"]), alice.accessToken);
    expect(await sha256(await res.arrayBuffer())).toBe(await sha256(bytes));
  });

  it("answers HEAD with the headers and no body", async () => {
    const alice = await registerUser("alice");
    const mediaId = mediaIdOf((await upload(alice.accessToken, new Uint8Array(1234), { contentType: "audio/ogg" })).json["content_uri"]);
    const res = await send("HEAD", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("1234");
    expect(res.headers.get("content-type")).toBe("audio/ogg");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("stores a zero-byte file", async () => {
    const alice = await registerUser("alice");
    const up = await upload(alice.accessToken, new Uint8Array(0), { contentType: "text/plain", headers: { "content-length": "0" } });
    expect(up.status).toBe(200);
    const res = await download(mediaIdOf(up.json["content_uri"]), alice.accessToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("0");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("lets another user of this server download, but not an unauthenticated client", async () => {
    const alice = await registerUser("alice");
    const bob = await registerUser("bob");
    const mediaId = mediaIdOf((await upload(alice.accessToken, new TextEncoder().encode("hello"), { contentType: "text/plain" })).json["content_uri"]);
    const anonymous = await download(mediaId);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Record<string, unknown>)["errcode"]).toBe("M_MISSING_TOKEN");
    expectSecurityHeaders(anonymous.headers);
    const asBob = await download(mediaId, bob.accessToken);
    expect(asBob.status).toBe(200);
    expect(await asBob.text()).toBe("hello");
  });

  it("answers the frozen legacy download and thumbnail endpoints 404 M_NOT_FOUND, even for existing media", async () => {
    const alice = await registerUser("alice");
    const mediaId = mediaIdOf((await upload(alice.accessToken, new Uint8Array([1, 2, 3]))).json["content_uri"]);
    for (const path of [`/_matrix/media/v3/download/localhost:8787/${mediaId}`, `/_matrix/media/v3/thumbnail/localhost:8787/${mediaId}?width=32&height=32`]) {
      const res = await call("GET", path, { token: alice.accessToken });
      expectError(res, 404, "M_NOT_FOUND");
      expectSecurityHeaders(res.headers);
    }
  });

  it("serves the upload limit on both config endpoints, authenticated", async () => {
    const alice = await registerUser("alice");
    for (const path of ["/_matrix/client/v1/media/config", "/_matrix/media/v3/config"]) {
      const res = await call("GET", path, { token: alice.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ "m.upload.size": Number(env.MEDIA_MAX_UPLOAD_BYTES) });
    }
    expectError(await call("GET", "/_matrix/client/v1/media/config"), 401, "M_MISSING_TOKEN");
  });
});

describe("Content-Disposition", () => {
  it("is attachment for types that are not safe inline, with the uploaded file name", async () => {
    const alice = await registerUser("alice");
    const up = await upload(alice.accessToken, new TextEncoder().encode("<script>alert(1)</script>"), { contentType: "text/html", filename: "page.html" });
    const res = await download(mediaIdOf(up.json["content_uri"]), alice.accessToken);
    expect(res.headers.get("content-type")).toBe("text/html");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="page.html"');
    expectSecurityHeaders(res.headers);
  });

  it("encodes non-ASCII names per RFC 6266 and takes the name from the path when given", async () => {
    const alice = await registerUser("alice");
    const up = await upload(alice.accessToken, new Uint8Array([1]), { contentType: "application/pdf", filename: "résumé \"final\".pdf" });
    const mediaId = mediaIdOf(up.json["content_uri"]);
    const res = await download(mediaId, alice.accessToken);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="r_sum_ _final_.pdf"; filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`);
    const renamed = await download(mediaId, alice.accessToken, "/other.pdf");
    expect(renamed.status).toBe(200);
    expect(renamed.headers.get("content-disposition")).toBe('attachment; filename="other.pdf"');
  });

  it("has no file name when none was uploaded", async () => {
    const alice = await registerUser("alice");
    const up = await upload(alice.accessToken, new Uint8Array([1]), { contentType: "video/mp4" });
    const res = await download(mediaIdOf(up.json["content_uri"]), alice.accessToken);
    expect(res.headers.get("content-disposition")).toBe("inline");
  });
});

describe("range requests", () => {
  it("serves 206 partial content for one range and 416 past the end", async () => {
    const alice = await registerUser("alice");
    const bytes = deterministicBytes(1000, 3);
    const mediaId = mediaIdOf((await upload(alice.accessToken, bytes)).json["content_uri"]);

    const middle = await download(mediaId, alice.accessToken, "", { range: "bytes=10-19" });
    expect(middle.status).toBe(206);
    expect(middle.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(middle.headers.get("content-length")).toBe("10");
    expect(Array.from(new Uint8Array(await middle.arrayBuffer()))).toEqual(Array.from(bytes.subarray(10, 20)));

    const suffix = await download(mediaId, alice.accessToken, "", { range: "bytes=-5" });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe("bytes 995-999/1000");
    expect(Array.from(new Uint8Array(await suffix.arrayBuffer()))).toEqual(Array.from(bytes.subarray(995)));

    const open = await download(mediaId, alice.accessToken, "", { range: "bytes=990-" });
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect((await open.arrayBuffer()).byteLength).toBe(10);

    const beyond = await download(mediaId, alice.accessToken, "", { range: "bytes=1000-" });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe("bytes */1000");
    expectSecurityHeaders(beyond.headers);

    const junk = await download(mediaId, alice.accessToken, "", { range: "pages=1-2" });
    expect(junk.status).toBe(200);
    expect((await junk.arrayBuffer()).byteLength).toBe(1000);
  });
});

describe("limits and bad input", () => {
  const small = { MEDIA_MAX_UPLOAD_BYTES: "1000" };

  it("refuses a declared Content-Length over the limit with 413 M_TOO_LARGE", async () => {
    const alice = await registerUser("alice");
    const before = await mediaKeys();
    const up = await upload(alice.accessToken, streamOf(new Uint8Array(2000)), { headers: { "content-length": "2000" }, env: small });
    expect(up.status).toBe(413);
    expect(up.json["errcode"]).toBe("M_TOO_LARGE");
    expect(await mediaKeys()).toEqual(before);
    expect(await countRows(alice.userId)).toBe(0);
  });

  it("cuts off a body without Content-Length once it passes the limit, leaving nothing in R2 or D1", async () => {
    const alice = await registerUser("alice");
    const before = await mediaKeys();
    const up = await upload(alice.accessToken, streamOf(new Uint8Array(5000), 300), { env: small });
    expect(up.status).toBe(413);
    expect(up.json["errcode"]).toBe("M_TOO_LARGE");
    expect(await mediaKeys()).toEqual(before);
    expect(await countRows(alice.userId)).toBe(0);
  });

  it("cuts off a large chunked upload over the limit after multipart parts were written", async () => {
    const alice = await registerUser("alice");
    const before = await mediaKeys();
    const up = await upload(alice.accessToken, streamOf(deterministicBytes(20 * 1024 * 1024), 1 << 20), { env: { MEDIA_MAX_UPLOAD_BYTES: String(18 * 1024 * 1024) } });
    expect(up.status).toBe(413);
    expect(await mediaKeys()).toEqual(before);
    expect(await countRows(alice.userId)).toBe(0);
  });

  it("refuses bodies shorter or longer than their Content-Length (truncated or lying uploads) and keeps nothing", async () => {
    const alice = await registerUser("alice");
    const before = await mediaKeys();
    const short = await upload(alice.accessToken, streamOf(new Uint8Array(50)), { headers: { "content-length": "100" } });
    expect(short.status).toBe(400);
    expect(short.json["errcode"]).toBe("M_UNKNOWN");
    const long = await upload(alice.accessToken, streamOf(new Uint8Array(200)), { headers: { "content-length": "100" } });
    expect(long.status).toBe(400);
    const malformed = await upload(alice.accessToken, new Uint8Array(3), { headers: { "content-length": "three" } });
    expect(malformed.status).toBe(400);
    expect(await mediaKeys()).toEqual(before);
    expect(await countRows(alice.userId)).toBe(0);
  });

  it("enforces the per-user quota with 403 M_FORBIDDEN", async () => {
    const alice = await registerUser("alice");
    const quota = { MEDIA_USER_QUOTA_BYTES: "100" };
    expect((await upload(alice.accessToken, new Uint8Array(60), { env: quota })).status).toBe(200);
    const declared = await upload(alice.accessToken, new Uint8Array(60), { headers: { "content-length": "60" }, env: quota });
    expect(declared.status).toBe(403);
    expect(declared.json["errcode"]).toBe("M_FORBIDDEN");
    const before = await mediaKeys();
    // Without Content-Length the quota is only known to be passed once the bytes are in R2: they must go again.
    const chunked = await upload(alice.accessToken, streamOf(new Uint8Array(60)), { env: quota });
    expect(chunked.status).toBe(403);
    expect(await countRows(alice.userId)).toBe(1);
    expect(await mediaKeys()).toEqual(before);
    // Another user has a quota of their own.
    const bob = await registerUser("bob");
    expect((await upload(bob.accessToken, new Uint8Array(60), { env: quota })).status).toBe(200);
  });

  it("requires a token to upload", async () => {
    const res = await send("POST", "/_matrix/media/v3/upload", { body: new Uint8Array(1) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as Record<string, unknown>)["errcode"]).toBe("M_MISSING_TOKEN");
  });

  it("answers unknown, malformed and remote media ids", async () => {
    const alice = await registerUser("alice");
    const t = alice.accessToken;
    expectError(await call("GET", "/_matrix/client/v1/media/download/localhost:8787/AAAAAAAAAAAAAAAAAAAAAAAA", { token: t }), 404, "M_NOT_FOUND");
    expectError(await call("GET", "/_matrix/client/v1/media/download/other.example/AAAAAAAAAAAAAAAAAAAAAAAA", { token: t }), 404, "M_NOT_FOUND");
    expectError(await call("GET", "/_matrix/client/v1/media/download/bad_server!name/AAAA", { token: t }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v1/media/download/localhost:99999/AAAA", { token: t }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v1/media/download/localhost:8787/..%2F..%2Fetc", { token: t }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v1/media/thumbnail/localhost:8787/AAAA?width=32&height=32", { token: t }), 404, "M_NOT_FOUND");
  });
});

describe("create, then upload (asynchronous uploads)", () => {
  it("reserves an id, answers 504 M_NOT_YET_UPLOADED until the creator PUTs, then serves it", async () => {
    const alice = await registerUser("alice");
    const bob = await registerUser("bob");
    const created = await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken });
    expect(created.status).toBe(200);
    const mediaId = mediaIdOf(created.body["content_uri"]);
    const expiresAt = created.body["unused_expires_at"] as number;
    expect(expiresAt).toBeGreaterThan(Date.now() + 23 * 3600_000);

    const early = await call("GET", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}?timeout_ms=0`, { token: alice.accessToken });
    expectError(early, 504, "M_NOT_YET_UPLOADED");

    const put = (token: string, body: Uint8Array) =>
      send("PUT", `/_matrix/media/v3/upload/localhost:8787/${mediaId}?filename=late.txt`, { token, body, headers: { "content-type": "text/plain" } });
    const byBob = await put(bob.accessToken, new Uint8Array([1]));
    expect(byBob.status).toBe(403);
    expect(((await byBob.json()) as Record<string, unknown>)["errcode"]).toBe("M_FORBIDDEN");

    // A download that waits sees the content as soon as it arrives.
    const waiting = send("GET", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}?timeout_ms=5000`, { token: bob.accessToken });
    const ok = await put(alice.accessToken, new TextEncoder().encode("later"));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({});
    const waited = await waiting;
    expect(waited.status).toBe(200);
    expect(await waited.text()).toBe("later");
    expect(waited.headers.get("content-disposition")).toBe('inline; filename="late.txt"');

    const again = await put(alice.accessToken, new Uint8Array([2]));
    expect(again.status).toBe(409);
    expect(((await again.json()) as Record<string, unknown>)["errcode"]).toBe("M_CANNOT_OVERWRITE_MEDIA");
    const stillFirst = await send("GET", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}`, { token: alice.accessToken });
    expect(await stillFirst.text()).toBe("later");
  });

  it("lets the creator retry after a failed PUT, and refuses ids never created", async () => {
    const alice = await registerUser("alice");
    const created = await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken });
    const mediaId = mediaIdOf(created.body["content_uri"]);
    const tooBig = await send("PUT", `/_matrix/media/v3/upload/localhost:8787/${mediaId}`, {
      token: alice.accessToken,
      body: streamOf(new Uint8Array(2000), 100),
      env: { MEDIA_MAX_UPLOAD_BYTES: "1000" },
    });
    expect(tooBig.status).toBe(413);
    expect(await env.MEDIA.head(`media/${mediaId}`)).toBeNull();
    const retry = await send("PUT", `/_matrix/media/v3/upload/localhost:8787/${mediaId}`, { token: alice.accessToken, body: new Uint8Array([9]) });
    expect(retry.status).toBe(200);

    const unknown = await send("PUT", "/_matrix/media/v3/upload/localhost:8787/neverCreatedId", { token: alice.accessToken, body: new Uint8Array([1]) });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Record<string, unknown>)["errcode"]).toBe("M_NOT_FOUND");
  });

  it("refuses an expired id", async () => {
    const alice = await registerUser("alice");
    const created = await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken });
    const mediaId = mediaIdOf(created.body["content_uri"]);
    await env.DB.prepare("UPDATE media SET unused_expires_ts = ? WHERE media_id = ?").bind(Date.now() - 1, mediaId).run();
    const put = await send("PUT", `/_matrix/media/v3/upload/localhost:8787/${mediaId}`, { token: alice.accessToken, body: new Uint8Array([1]) });
    expect(put.status).toBe(404);
    expectError(await call("GET", `/_matrix/client/v1/media/download/localhost:8787/${mediaId}`, { token: alice.accessToken }), 404, "M_NOT_FOUND");
    // The next reservation forgets the expired one.
    await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken });
    expect(await env.DB.prepare("SELECT 1 FROM media WHERE media_id = ?").bind(mediaId).first()).toBeNull();
  });

  it("limits how many ids a user may hold pending with 429 M_LIMIT_EXCEEDED", async () => {
    const alice = await registerUser("alice");
    for (let i = 0; i < 50; i++) expect((await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken })).status).toBe(200);
    expectError(await call("POST", "/_matrix/media/v1/create", { token: alice.accessToken }), 429, "M_LIMIT_EXCEEDED");
  });
});
