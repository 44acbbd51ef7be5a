import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call } from "../helpers";
import { type Authorized, authorizedCode, exchange, expectOAuthError, raw, registerClient, whoami } from "./helpers";

/** Nothing was granted: the requested device does not exist and has no tokens. */
async function expectNothingGranted(a: Authorized): Promise<void> {
  const devices = await call<{ devices: { device_id: string }[] }>("GET", "/_matrix/client/v3/devices", { token: a.user.accessToken });
  expect(devices.body.devices.map((d) => d.device_id)).not.toContain(a.deviceId);
  const tokens = await env.DB.prepare("SELECT COUNT(*) AS n FROM access_tokens WHERE device_id = ?").bind(a.deviceId).first<{ n: number }>();
  expect(tokens!.n).toBe(0);
}

describe("OAuth token endpoint", () => {
  it("exchanges a code for opaque tokens that the Client-Server API accepts, on the requested device", async () => {
    const a = await authorizedCode();
    const res = await exchange(a);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = res.json();
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 300, scope: `urn:matrix:client:api:* urn:matrix:client:device:${a.deviceId}` });
    const who = await call("GET", "/_matrix/client/v3/account/whoami", { token: body["access_token"] as string });
    expect(who.body).toEqual({ user_id: a.user.userId, device_id: a.deviceId, is_guest: false });
    const devices = await call<{ devices: { device_id: string; display_name?: string }[] }>("GET", "/_matrix/client/v3/devices", { token: a.user.accessToken });
    expect(devices.body.devices.find((d) => d.device_id === a.deviceId)?.display_name).toBe("Test Client");
  });

  it("refuses a wrong PKCE verifier, and the code is spent", async () => {
    const a = await authorizedCode();
    expectOAuthError(await exchange(a, { code_verifier: "x".repeat(64) }), 400, "invalid_grant");
    expectOAuthError(await exchange(a), 400, "invalid_grant");
    await expectNothingGranted(a);
  });

  it("refuses a malformed verifier", async () => {
    const a = await authorizedCode();
    expectOAuthError(await exchange(a, { code_verifier: "short" }), 400, "invalid_grant");
  });

  it("refuses code reuse and revokes the session the code produced", async () => {
    const a = await authorizedCode();
    const first = await exchange(a);
    expect(first.status).toBe(200);
    const token = first.json()["access_token"] as string;
    expect(await whoami(token)).toBe(200);
    expectOAuthError(await exchange(a), 400, "invalid_grant");
    expect(await whoami(token)).toBe(401);
  });

  it("lets exactly one of concurrent redemptions of a code succeed", async () => {
    const a = await authorizedCode();
    const results = await Promise.all([exchange(a), exchange(a), exchange(a)]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it("refuses a code presented by another client", async () => {
    const a = await authorizedCode();
    const other = await registerClient();
    expectOAuthError(await exchange(a, { client_id: other }), 400, "invalid_grant");
    // Spent by the attempt: the rightful client cannot use it either, and nothing was granted.
    expectOAuthError(await exchange(a), 400, "invalid_grant");
    await expectNothingGranted(a);
  });

  it("refuses a redirect_uri other than the authorization request's", async () => {
    const a = await authorizedCode();
    expectOAuthError(await exchange(a, { redirect_uri: "https://client.example/other" }), 400, "invalid_grant");
    await expectNothingGranted(a);
  });

  it("refuses an expired code", async () => {
    const a = await authorizedCode();
    await env.DB.prepare("UPDATE oauth_codes SET expires_ts = ? WHERE used_ts IS NULL AND device_id = ?").bind(Date.now() - 1, a.deviceId).run();
    expectOAuthError(await exchange(a), 400, "invalid_grant");
    await expectNothingGranted(a);
  });

  it("refuses unknown codes, clients, grant types and missing parameters", async () => {
    const a = await authorizedCode();
    expectOAuthError(await exchange(a, { code: "mac_nope" }), 400, "invalid_grant");
    expectOAuthError(await exchange(a, { client_id: "nope" }), 401, "invalid_client");
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { grant_type: "authorization_code", code: a.code } }), 401, "invalid_client");
    expectOAuthError(await exchange(a, { grant_type: "password" }), 400, "unsupported_grant_type");
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { client_id: a.clientId } }), 400, "invalid_request");
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { grant_type: "authorization_code", client_id: a.clientId, code: a.code } }), 400, "invalid_request");
    expectOAuthError(await raw("POST", "/oauth2/token", { json: { grant_type: "authorization_code" } }), 400, "invalid_request");
    expectOAuthError(await raw("POST", "/oauth2/token", { rawBody: "grant_type=refresh_token&grant_type=authorization_code", contentType: "application/x-www-form-urlencoded" }), 400, "invalid_request");
  });

  it("refuses a grant the client did not register", async () => {
    const clientId = await registerClient({ client_uri: "https://client.example/", redirect_uris: ["https://client.example/callback"] });
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { grant_type: "refresh_token", client_id: clientId, refresh_token: "mar_x" } }), 400, "unauthorized_client");
  });

  it("rotates refresh tokens; replaying a rotated one revokes the session", async () => {
    const a = await authorizedCode();
    const tokens = (await exchange(a)).json();
    const refresh = (rt: unknown, clientId = a.clientId) =>
      raw("POST", "/oauth2/token", { form: { grant_type: "refresh_token", refresh_token: rt as string, client_id: clientId } });
    const second = await refresh(tokens["refresh_token"]);
    expect(second.status).toBe(200);
    const rotated = second.json();
    expect(rotated["refresh_token"]).not.toBe(tokens["refresh_token"]);
    expect(rotated["scope"]).toBe(tokens["scope"]);
    expect(await whoami(tokens["access_token"] as string)).toBe(401);
    expect(await whoami(rotated["access_token"] as string)).toBe(200);
    // The replay: refused, and the whole session (device) goes.
    expectOAuthError(await refresh(tokens["refresh_token"]), 400, "invalid_grant");
    expect(await whoami(rotated["access_token"] as string)).toBe(401);
    expectOAuthError(await refresh(rotated["refresh_token"]), 400, "invalid_grant");
  });

  it("applies concurrent refreshes with one token one after the other: exactly one pair left working", async () => {
    const a = await authorizedCode();
    const tokens = (await exchange(a)).json();
    const results = await Promise.all(
      [0, 1, 2].map(() => raw("POST", "/oauth2/token", { form: { grant_type: "refresh_token", refresh_token: tokens["refresh_token"] as string, client_id: a.clientId } })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const statuses = [];
    for (const r of results) statuses.push(await whoami(r.json()["access_token"] as string));
    expect(statuses.sort()).toEqual([200, 401, 401]);
  });

  it("answers CORS preflights, so web clients can call it", async () => {
    const res = await raw("OPTIONS", "/oauth2/token", {
      headers: { origin: "https://client.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("refuses a refresh token presented by another client, without rotating it", async () => {
    const a = await authorizedCode();
    const tokens = (await exchange(a)).json();
    const other = await registerClient();
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { grant_type: "refresh_token", refresh_token: tokens["refresh_token"] as string, client_id: other } }), 400, "invalid_grant");
    expect(await whoami(tokens["access_token"] as string)).toBe(200);
  });
});

describe("OAuth revocation endpoint", () => {
  it("revokes the whole session by access token or by refresh token, and answers 200 for unknown tokens", async () => {
    const byAccess = await authorizedCode();
    const t1 = (await exchange(byAccess)).json();
    expect((await raw("POST", "/oauth2/revoke", { form: { token: t1["access_token"] as string, token_type_hint: "access_token", client_id: byAccess.clientId } })).status).toBe(200);
    expect(await whoami(t1["access_token"] as string)).toBe(401);
    expectOAuthError(await raw("POST", "/oauth2/token", { form: { grant_type: "refresh_token", refresh_token: t1["refresh_token"] as string, client_id: byAccess.clientId } }), 400, "invalid_grant");

    const byRefresh = await authorizedCode();
    const t2 = (await exchange(byRefresh)).json();
    expect((await raw("POST", "/oauth2/revoke", { form: { token: t2["refresh_token"] as string } })).status).toBe(200);
    expect(await whoami(t2["access_token"] as string)).toBe(401);

    expect((await raw("POST", "/oauth2/revoke", { form: { token: "mat_unknown" } })).status).toBe(200);
  });

  it("refuses a request without a token or with the wrong content type", async () => {
    expectOAuthError(await raw("POST", "/oauth2/revoke", { form: {} }), 400, "invalid_request");
    expectOAuthError(await raw("POST", "/oauth2/revoke", { json: { token: "x" } }), 400, "invalid_request");
  });
});

describe("/v3/refresh reuse detection", () => {
  it("revokes a password login's device when a rotated refresh token comes back", async () => {
    const a = await authorizedCode();
    const login = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: a.user.userId }, password: a.user.password, refresh_token: true },
    });
    const first = await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } });
    expect(first.status).toBe(200);
    expect(await whoami(first.body["access_token"] as string)).toBe(200);
    const replay = await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } });
    expect({ status: replay.status, errcode: replay.body["errcode"] }).toEqual({ status: 401, errcode: "M_UNKNOWN_TOKEN" });
    expect(await whoami(first.body["access_token"] as string)).toBe(401);
    expect((await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: first.body["refresh_token"] } })).status).toBe(401);
    // Other devices of the user are untouched.
    expect(await whoami(a.user.accessToken)).toBe(200);
  });
});
