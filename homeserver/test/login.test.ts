import { describe, expect, it } from "vitest";
import { call, expectError, registerUser } from "./helpers";

const LOGIN = "/_matrix/client/v3/login";

const passwordLogin = (user: string, password: string, extra: Record<string, unknown> = {}) => ({
  type: "m.login.password",
  identifier: { type: "m.id.user", user },
  password,
  ...extra,
});

describe("login", () => {
  it("lists the password flow (and the appservice one)", async () => {
    expect((await call("GET", LOGIN)).body).toEqual({ flows: [{ type: "m.login.password" }, { type: "m.login.application_service" }] });
  });

  it("logs in with a full user id or a bare localpart, each on a new device", async () => {
    const user = await registerUser("login");
    const localpart = user.userId.slice(1).split(":")[0]!;
    const byId = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password) });
    const byLocalpart = await call("POST", LOGIN, { body: passwordLogin(localpart, user.password, { initial_device_display_name: "Phone" }) });
    expect(byId.status).toBe(200);
    expect(byId.body["user_id"]).toBe(user.userId);
    expect(byLocalpart.body["user_id"]).toBe(user.userId);
    expect(byId.body["device_id"]).not.toBe(byLocalpart.body["device_id"]);
    const whoami = await call("GET", "/_matrix/client/v3/account/whoami", { token: byLocalpart.body["access_token"] as string });
    expect(whoami.body).toEqual({ user_id: user.userId, device_id: byLocalpart.body["device_id"], is_guest: false });
  });

  it("accepts the deprecated top-level user field and reuses a named device", async () => {
    const user = await registerUser("legacy");
    const first = await call("POST", LOGIN, { body: { type: "m.login.password", user: user.userId, password: user.password, device_id: "KEEPME" } });
    expect(first.body["device_id"]).toBe("KEEPME");
    const second = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password, { device_id: "KEEPME" }) });
    expect(second.body["device_id"]).toBe("KEEPME");
    // Logging in again on the same device replaces its old token.
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: first.body["access_token"] as string }), 401, "M_UNKNOWN_TOKEN");
  });

  it("answers a wrong password and an unknown user alike with 403 M_FORBIDDEN", async () => {
    const user = await registerUser("wrongpw");
    const wrong = await call("POST", LOGIN, { body: passwordLogin(user.userId, "not it") });
    const unknown = await call("POST", LOGIN, { body: passwordLogin("@nobody:localhost:8787", "whatever") });
    const remote = await call("POST", LOGIN, { body: passwordLogin("@alice:elsewhere.example", "whatever") });
    for (const r of [wrong, unknown, remote]) expectError(r, 403, "M_FORBIDDEN");
    expect(wrong.body["error"]).toBe(unknown.body["error"]);
  });

  it("refuses unknown login and identifier types", async () => {
    expectError(await call("POST", LOGIN, { body: { type: "m.login.sso" } }), 400, "M_UNKNOWN");
    expectError(await call("POST", LOGIN, { body: { type: "m.login.password", identifier: { type: "m.id.phone" }, password: "x" } }), 400, "M_UNKNOWN");
    expectError(await call("POST", LOGIN, { body: { type: "m.login.password", password: "x" } }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", LOGIN, { body: { identifier: { type: "m.id.user", user: "a" } } }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", LOGIN, { body: { type: "m.login.password", identifier: "alice", password: "x" } }), 400, "M_BAD_JSON");
  });

  it("rate-limits attempts on one account whatever the IP", async () => {
    const user = await registerUser("limited");
    const env = { RATE_LIMIT_ENABLED: "true", RATE_LIMIT_LOGIN_PER_MINUTE: "2" };
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const res = await call("POST", LOGIN, { env, headers: { "cf-connecting-ip": `198.51.100.${i}` }, body: passwordLogin(user.userId, "bad") });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([403, 403, 429, 429]);
  });
});

describe("tokens", () => {
  it("answers a missing token with M_MISSING_TOKEN and a bad one with M_UNKNOWN_TOKEN", async () => {
    expectError(await call("GET", "/_matrix/client/v3/account/whoami"), 401, "M_MISSING_TOKEN");
    const bad = await call("GET", "/_matrix/client/v3/account/whoami", { token: "mat_forged" });
    expectError(bad, 401, "M_UNKNOWN_TOKEN");
    expect(bad.body["soft_logout"]).toBe(false);
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { headers: { authorization: "Basic abc" } }), 401, "M_MISSING_TOKEN");
  });

  it("accepts the access_token query parameter", async () => {
    const user = await registerUser("query");
    const res = await call("GET", `/_matrix/client/v3/account/whoami?access_token=${user.accessToken}`);
    expect(res.body["user_id"]).toBe(user.userId);
  });

  it("rotates refresh tokens: the old refresh and access tokens stop working", async () => {
    const user = await registerUser("refresh");
    const login = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password, { refresh_token: true }) });
    expect(login.body["expires_in_ms"]).toBe(86400000);
    const refreshed = await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body["refresh_token"]).not.toBe(login.body["refresh_token"]);
    const whoami = await call("GET", "/_matrix/client/v3/account/whoami", { token: refreshed.body["access_token"] as string });
    expect(whoami.body["device_id"]).toBe(login.body["device_id"]);
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: login.body["access_token"] as string }), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } }), 401, "M_UNKNOWN_TOKEN");
  });

  it("concurrent refreshes with one token: each answered, applied one after the other, exactly one pair left working", async () => {
    const user = await registerUser("refreshrace");
    const login = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password, { refresh_token: true }) });
    const results = await Promise.all(
      [0, 1, 2].map(() => call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const working = [];
    for (const r of results) if ((await call("GET", "/_matrix/client/v3/account/whoami", { token: r.body["access_token"] as string })).status === 200) working.push(r);
    expect(working).toHaveLength(1);
  });

  it("a refresh retried after its answer was lost gets a new pair; once the pair it got was used, a replay signs the device out", async () => {
    const user = await registerUser("refreshretry");
    const login = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password, { refresh_token: true }) });
    const whoami = (token: unknown) => call("GET", "/_matrix/client/v3/account/whoami", { token: token as string });
    const refresh = (token: unknown) => call("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: token } });
    const lost = await refresh(login.body["refresh_token"]);
    expect(lost.status).toBe(200);
    const retry = await refresh(login.body["refresh_token"]);
    expect(retry.status).toBe(200);
    // The lost answer's pair is replaced; its refresh token (had it arrived) would be a retry too.
    expectError(await whoami(lost.body["access_token"]), 401, "M_UNKNOWN_TOKEN");
    expect((await whoami(retry.body["access_token"])).body["device_id"]).toBe(login.body["device_id"]);
    // The retry's pair is in use now: the original token again is a leak, and the device goes.
    expectError(await refresh(login.body["refresh_token"]), 401, "M_UNKNOWN_TOKEN");
    expectError(await whoami(retry.body["access_token"]), 401, "M_UNKNOWN_TOKEN");
    expectError(await refresh(retry.body["refresh_token"]), 401, "M_UNKNOWN_TOKEN");
  });

  it("expires access tokens of refreshing clients as a soft logout", async () => {
    const user = await registerUser("expiry");
    const env = { ACCESS_TOKEN_LIFETIME_MS: "1" };
    const login = await call("POST", LOGIN, { env, body: passwordLogin(user.userId, user.password, { refresh_token: true }) });
    await new Promise((r) => setTimeout(r, 5));
    const res = await call("GET", "/_matrix/client/v3/account/whoami", { token: login.body["access_token"] as string });
    expectError(res, 401, "M_UNKNOWN_TOKEN");
    expect(res.body["soft_logout"]).toBe(true);
  });

  it("logs out one device, or all of them", async () => {
    const user = await registerUser("logout");
    const other = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password) });
    const otherToken = other.body["access_token"] as string;
    expect((await call("POST", "/_matrix/client/v3/logout", { token: user.accessToken })).status).toBe(200);
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: user.accessToken }), 401, "M_UNKNOWN_TOKEN");
    const devices = await call<{ devices: { device_id: string }[] }>("GET", "/_matrix/client/v3/devices", { token: otherToken });
    expect(devices.body.devices.map((d) => d.device_id)).toEqual([other.body["device_id"]]);
    const third = await call("POST", LOGIN, { body: passwordLogin(user.userId, user.password) });
    expect((await call("POST", "/_matrix/client/v3/logout/all", { token: otherToken })).status).toBe(200);
    for (const t of [otherToken, third.body["access_token"] as string]) {
      expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: t }), 401, "M_UNKNOWN_TOKEN");
    }
  });
});
