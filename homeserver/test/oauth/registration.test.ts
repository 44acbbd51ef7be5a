import { describe, expect, it } from "vitest";
import { call, expectError } from "../helpers";
import { WEB_CLIENT, expectOAuthError, raw } from "./helpers";

const register = (metadata: unknown) => raw("POST", "/oauth2/register", { json: metadata });

describe("OAuth server metadata", () => {
  it("lists only what is implemented, at auth_metadata, the unstable path and openid-configuration", async () => {
    const res = await raw("GET", "/_matrix/client/v1/auth_metadata");
    expect(res.status).toBe(200);
    const metadata = res.json();
    expect(metadata).toEqual({
      issuer: "http://localhost:8787/",
      authorization_endpoint: "http://localhost:8787/oauth2/auth",
      token_endpoint: "http://localhost:8787/oauth2/token",
      registration_endpoint: "http://localhost:8787/oauth2/register",
      revocation_endpoint: "http://localhost:8787/oauth2/revoke",
      response_types_supported: ["code"],
      response_modes_supported: ["query", "fragment"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none"],
      revocation_endpoint_auth_methods_supported: ["none"],
      scopes_supported: ["urn:matrix:client:api:*", "urn:matrix:client:device:*"],
      prompt_values_supported: ["create"],
      account_management_uri: "http://localhost:8787/account",
      account_management_actions_supported: [
        "org.matrix.profile",
        "org.matrix.devices_list",
        "org.matrix.device_view",
        "org.matrix.device_delete",
        "org.matrix.account_deactivate",
      ],
    });
    expect(metadata).not.toHaveProperty("jwks_uri");
    expect((await raw("GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata")).json()).toEqual(metadata);
    expect((await raw("GET", "/.well-known/openid-configuration")).json()).toEqual(metadata);
  });
});

describe("OAuth dynamic client registration", () => {
  it("registers a web client and answers 201 with the registered metadata (unknown values dropped)", async () => {
    const res = await register({
      ...WEB_CLIENT,
      "client_name#fr": "Client de test",
      grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"],
      response_types: ["code", "id_token"],
      software_id: "ignored",
    });
    expect(res.status).toBe(201);
    const body = res.json();
    expect(body["client_id"]).toMatch(/^[a-z0-9]{24}$/);
    expect(body).toMatchObject({
      client_name: "Test Client",
      "client_name#fr": "Client de test",
      client_uri: "https://client.example/",
      redirect_uris: ["https://client.example/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "web",
    });
    expect(body).not.toHaveProperty("software_id");
  });

  it("accepts the spec's valid redirect URIs", async () => {
    const web = await register({ client_uri: "https://example.com/", redirect_uris: ["https://example.com/callback", "https://app.example.com/callback", "https://example.com:5173/?query=value"] });
    expect(web.status).toBe(201);
    const native = await register({
      client_uri: "https://example.com/",
      application_type: "native",
      redirect_uris: ["com.example.app:/callback", "com.example:/", "com.example:callback", "http://localhost/callback", "http://127.0.0.1/callback", "http://[::1]/callback", "https://example.com/claimed"],
    });
    expect(native.status).toBe(201);
    const dev = await register({ client_uri: "http://localhost:3000/", redirect_uris: ["http://localhost:3000/callback"] });
    expect(dev.status).toBe(201);
  });

  it("refuses the spec's invalid redirect URIs with invalid_redirect_uri", async () => {
    const web = ["https://example.com/callback#fragment", "http://example.com/callback", "http://localhost/", "https://user:pw@example.com/cb", "https://evil.com/cb", "https://notexample.com/cb", "not a uri"];
    for (const uri of web) {
      expectOAuthError(await register({ client_uri: "https://example.com/", redirect_uris: [uri] }), 400, "invalid_redirect_uri");
    }
    const native = ["example:/callback", "com.example.app://callback", "https://localhost/callback", "http://localhost:1234/callback", "http://192.168.1.2/callback", "org.evil:/callback", "com.example.app:/cb#f"];
    for (const uri of native) {
      const res = await register({ client_uri: "https://example.com/", application_type: "native", redirect_uris: [uri] });
      expect({ uri, status: res.status, error: res.json()["error"] }).toEqual({ uri, status: 400, error: "invalid_redirect_uri" });
    }
    expectOAuthError(await register({ client_uri: "https://example.com/" }), 400, "invalid_redirect_uri");
    expectOAuthError(await register({ client_uri: "https://example.com/", redirect_uris: [] }), 400, "invalid_redirect_uri");
    expectOAuthError(await register({ client_uri: "https://example.com/", redirect_uris: "https://example.com/cb" }), 400, "invalid_redirect_uri");
  });

  it("refuses invalid client metadata", async () => {
    const ok = { client_uri: "https://example.com/", redirect_uris: ["https://example.com/cb"] };
    const bad: Record<string, unknown>[] = [
      { redirect_uris: ["https://example.com/cb"] },
      { ...ok, client_uri: "http://example.com/" },
      { ...ok, client_uri: "https://user:pass@example.com/" },
      { ...ok, client_uri: "https://example.com/#x" },
      { ...ok, client_uri: "javascript:alert(1)" },
      { ...ok, client_uri: 42 },
      { ...ok, token_endpoint_auth_method: "client_secret_basic" },
      { ...ok, application_type: "desktop" },
      { ...ok, logo_uri: "https://evil.example/logo.png" },
      { ...ok, tos_uri: "http://example.com/tos" },
      { ...ok, "policy_uri#fr": "https://evil.example/fr" },
      { ...ok, "client_name#fr": 3 },
      { ...ok, client_name: "x".repeat(300) },
      { ...ok, client_name: "" },
    ];
    for (const metadata of bad) {
      const res = await register(metadata);
      expect({ metadata, status: res.status, error: res.json()["error"] }).toEqual({ metadata, status: 400, error: "invalid_client_metadata" });
    }
  });

  it("rate limits registrations per address", async () => {
    const limited = { env: { RATE_LIMIT_ENABLED: "true", RATE_LIMIT_REGISTER_PER_MINUTE: "2" }, headers: { "cf-connecting-ip": `203.0.113.${Math.floor(Math.random() * 250)}` } };
    expect((await raw("POST", "/oauth2/register", { json: WEB_CLIENT, ...limited })).status).toBe(201);
    expect((await raw("POST", "/oauth2/register", { json: WEB_CLIENT, ...limited })).status).toBe(201);
    const third = await raw("POST", "/oauth2/register", { json: WEB_CLIENT, ...limited });
    expect(third.status).toBe(429);
    expect(third.json()["error"]).toBe("invalid_request");
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("refuses malformed and oversized bodies", async () => {
    expectOAuthError(await raw("POST", "/oauth2/register", { rawBody: "{not json", contentType: "application/json" }), 400, "invalid_client_metadata");
    expectOAuthError(await raw("POST", "/oauth2/register", { rawBody: "[]", contentType: "application/json" }), 400, "invalid_client_metadata");
    expectOAuthError(await raw("POST", "/oauth2/register", { rawBody: "null", contentType: "application/json" }), 400, "invalid_client_metadata");
    expectOAuthError(await register({ ...WEB_CLIENT, padding: "x".repeat(20_000) }), 400, "invalid_client_metadata");
    expectOAuthError(await register({ ...WEB_CLIENT, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://client.example/${i}`) }), 400, "invalid_redirect_uri");
    expectOAuthError(await register({ ...WEB_CLIENT, redirect_uris: [`https://client.example/${"a".repeat(3000)}`] }), 400, "invalid_redirect_uri");
  });
});

describe("PASSWORD_LOGIN_ENABLED", () => {
  it("turns off the password flow of /v3/login while OAuth stays available", async () => {
    const off = { PASSWORD_LOGIN_ENABLED: "false" };
    const flows = (env?: Record<string, string>) => (call("GET", "/_matrix/client/v3/login", { env }) as Promise<{ body: { flows: { type: string }[] } }>).then((r) => r.body.flows.map((f) => f.type));
    expect(await flows(off)).not.toContain("m.login.password");
    const res = await call("POST", "/_matrix/client/v3/login", {
      env: off,
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: "someone" }, password: "whatever" },
    });
    expectError(res, 403, "M_FORBIDDEN");
    expect((await raw("GET", "/_matrix/client/v1/auth_metadata", { env: off })).status).toBe(200);
    expect(await flows()).toContain("m.login.password");
  });
});
