import { describe, expect, it } from "vitest";
import { call, expectError, registerUser } from "./helpers";

describe("HTTP foundation", () => {
  it("answers an unknown endpoint with 404 M_UNRECOGNIZED", async () => {
    expectError(await call("GET", "/_matrix/client/v3/no_such_thing"), 404, "M_UNRECOGNIZED");
  });

  it("answers a known path with the wrong method with 405 M_UNRECOGNIZED", async () => {
    expectError(await call("DELETE", "/_matrix/client/versions"), 405, "M_UNRECOGNIZED");
    expectError(await call("GET", "/_matrix/client/v3/register"), 405, "M_UNRECOGNIZED");
  });

  it("answers malformed JSON with 400 M_NOT_JSON", async () => {
    expectError(await call("POST", "/_matrix/client/v3/login", { rawBody: "{not json" }), 400, "M_NOT_JSON");
    expectError(await call("POST", "/_matrix/client/v3/login", { rawBody: "[1,2]" }), 400, "M_NOT_JSON");
    expectError(await call("POST", "/_matrix/client/v3/login", { rawBody: "" }), 400, "M_NOT_JSON");
  });

  it("answers a missing field with M_MISSING_PARAM and a wrong type with M_BAD_JSON", async () => {
    expectError(await call("POST", "/_matrix/client/v3/refresh", { body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: 42 } }), 400, "M_BAD_JSON");
  });

  it("answers an oversized body with 413 M_TOO_LARGE, measured on bytes received", async () => {
    const huge = "x".repeat(1024 * 1024 + 10);
    expectError(await call("POST", "/_matrix/client/v3/login", { body: { type: "m.login.password", password: huge } }), 413, "M_TOO_LARGE");
    // A lying Content-Length must not get a big body through.
    const small = await call("POST", "/_matrix/client/v3/login", {
      rawBody: JSON.stringify({ password: huge }),
      headers: { "content-length": "10" },
    });
    expect([400, 413]).toContain(small.status);
  });

  it("answers CORS preflights as the spec requires", async () => {
    const res = await call("OPTIONS", "/_matrix/client/v3/login", {
      headers: { origin: "https://app.element.io", "access-control-request-method": "POST" },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")).toMatch(/Authorization/i);
    const plain = await call("GET", "/_matrix/client/versions", { headers: { origin: "https://app.element.io" } });
    expect(plain.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("keeps the sign-in pages' headers off the API", async () => {
    const api = await call("GET", "/_matrix/client/versions");
    expect(api.headers.get("x-frame-options")).toBeNull();
    expect(api.headers.get("content-security-policy")).toBeNull();
  });

  it("names the bad setting when the configuration is invalid", async () => {
    const res = await call("GET", "/_matrix/client/versions", { env: { SERVER_NAME: "not a server name!" } });
    expectError(res, 500, "M_UNKNOWN");
    expect(res.body["error"]).toContain("SERVER_NAME");
    const missing = await call("GET", "/_matrix/client/versions", { env: { REGISTRATION: "token", REGISTRATION_TOKEN: undefined } });
    expect(missing.body["error"]).toContain("REGISTRATION_TOKEN");
  });
});

describe("discovery", () => {
  it("lists the supported versions", async () => {
    const res = await call("GET", "/_matrix/client/versions");
    expect(res.status).toBe(200);
    expect(res.body["versions"]).toContain("v1.1");
  });

  it("serves the well-known documents from the configuration", async () => {
    const client = await call("GET", "/.well-known/matrix/client");
    expect(client.body).toEqual({ "m.homeserver": { base_url: "http://localhost:8787" } });
    const server = await call("GET", "/.well-known/matrix/server");
    expect(server.body).toEqual({ "m.server": "localhost:8787" });
  });

  it("serves capabilities to authenticated users only", async () => {
    expectError(await call("GET", "/_matrix/client/v3/capabilities"), 401, "M_MISSING_TOKEN");
    const user = await registerUser();
    const res = await call<{ capabilities: Record<string, { enabled: boolean }> }>("GET", "/_matrix/client/v3/capabilities", { token: user.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.capabilities["m.change_password"]).toEqual({ enabled: true });
  });
});
