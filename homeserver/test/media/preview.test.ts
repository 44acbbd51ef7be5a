import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseOpenGraph } from "../../src/media/preview";
import { call, expectError, registerUser } from "../helpers";

const html = (body: string) => new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });

describe("parseOpenGraph", () => {
  it("reads og: tags, decodes entities, and hands og:image back apart (it must become an mxc URI)", async () => {
    const page = html(`<!doctype html><html><head>
      <title>Ignored title</title>
      <meta property="og:title" content="Tom &amp; Jerry &#x2014; &quot;live&quot;">
      <meta property="og:description" content="  A   cartoon
        about a cat ">
      <meta property="og:image" content="https://example.org/x.png">
      <meta property="og:image:width" content="48">
      <meta name="og:type" content="video.movie">
    </head><body></body></html>`);
    expect(await parseOpenGraph(page)).toEqual({
      "og:title": 'Tom & Jerry \u2014 "live"',
      "og:description": "A cartoon about a cat",
      "og:type": "video.movie",
      imageUrl: "https://example.org/x.png",
    });
  });

  it("falls back to <title> and the meta description", async () => {
    const page = html(`<html><head><title>Plain page</title><meta name="description" content="About it"></head></html>`);
    expect(await parseOpenGraph(page)).toEqual({ "og:title": "Plain page", "og:description": "About it" });
  });
});

describe("GET /_matrix/client/v1/media/preview_url", () => {
  it("refuses loopback and private targets unless configured, before fetching", async () => {
    const alice = await registerUser("alice");
    for (const url of ["http://127.0.0.1:1/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/", "http://2130706433/"]) {
      const res = await call("GET", `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, { token: alice.accessToken });
      expectError(res, 403, "M_FORBIDDEN");
    }
  });

  it("answers bad URLs, other schemes, disabled previews and missing tokens", async () => {
    const alice = await registerUser("alice");
    const t = alice.accessToken;
    expectError(await call("GET", "/_matrix/client/v1/media/preview_url?url=not%20a%20url", { token: t }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v1/media/preview_url?url=file%3A%2F%2F%2Fetc%2Fpasswd", { token: t }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v1/media/preview_url", { token: t }), 400, "M_MISSING_PARAM");
    expectError(
      await call("GET", "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fexample.org%2F", { token: t, env: { URL_PREVIEW_ENABLED: "false" } }),
      403,
      "M_FORBIDDEN",
    );
    expectError(await call("GET", "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fexample.org%2F"), 401, "M_MISSING_TOKEN");
  });

  it("answers from the KV cache without fetching again", async () => {
    const alice = await registerUser("alice");
    // Nothing answers at this name offline: only a cached preview can make this succeed.
    const url = "https://preview-cache-test.invalid/page";
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url));
    const key = `url_preview:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    await env.KV.put(key, JSON.stringify({ "og:title": "Cached" }));
    const res = await call("GET", `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ "og:title": "Cached" });
  });

  it("answers an unreachable allowed target with 502, not 500", async () => {
    const alice = await registerUser("alice");
    const res = await call("GET", `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent("http://127.0.0.1:1/")}`, {
      token: alice.accessToken,
      env: { URL_PREVIEW_ALLOW_PRIVATE: "true", URL_PREVIEW_TIMEOUT_MS: "2000" },
    });
    expectError(res, 502, "M_UNKNOWN");
  });
});
