import { describe, expect, it } from "vitest";
import { call, expectError, registerUser, uniqueName } from "./helpers";

const REGISTER = "/_matrix/client/v3/register";

describe("registration", () => {
  it("offers m.login.dummy when open and registers on completion", async () => {
    const username = uniqueName("open");
    const challenge = await call("POST", REGISTER, { body: { username, password: "pw-123456" } });
    expect(challenge.status).toBe(401);
    expect(challenge.body["flows"]).toEqual([{ stages: ["m.login.dummy"] }]);
    const session = challenge.body["session"] as string;
    expect(session.length).toBeGreaterThan(10);
    const done = await call("POST", REGISTER, { body: { username, password: "pw-123456", auth: { type: "m.login.dummy", session } } });
    expect(done.status).toBe(200);
    expect(done.body["user_id"]).toBe(`@${username}:localhost:8787`);
    expect(done.body["access_token"]).toMatch(/^mat_[A-Za-z0-9_-]{43}$/);
    expect(typeof done.body["device_id"]).toBe("string");
  });

  it("refuses an unknown UIA session", async () => {
    const res = await call("POST", REGISTER, { body: { username: uniqueName(), auth: { type: "m.login.dummy", session: "nope" } } });
    expectError(res, 400, "M_UNKNOWN");
  });

  it("asks for a registration token in token mode and checks it", async () => {
    const env = { REGISTRATION: "token" };
    const username = uniqueName("tok");
    const challenge = await call("POST", REGISTER, { env, body: { username } });
    expect(challenge.body["flows"]).toEqual([{ stages: ["m.login.registration_token"] }]);
    const session = challenge.body["session"];
    const wrong = await call("POST", REGISTER, { env, body: { username, auth: { type: "m.login.registration_token", token: "wrong", session } } });
    expect(wrong.status).toBe(401);
    expect(wrong.body["errcode"]).toBe("M_FORBIDDEN");
    const dummy = await call("POST", REGISTER, { env, body: { username, auth: { type: "m.login.dummy", session } } });
    expect(dummy.status).toBe(401);
    const ok = await call("POST", REGISTER, {
      env,
      body: { username, auth: { type: "m.login.registration_token", token: "test-registration-token", session } },
    });
    expect(ok.status).toBe(200);
    expect(ok.body["user_id"]).toBe(`@${username}:localhost:8787`);
  });

  it("validates registration tokens through the validity endpoint", async () => {
    const path = "/_matrix/client/v1/register/m.login.registration_token/validity";
    const env = { REGISTRATION: "token" };
    expect((await call("GET", `${path}?token=test-registration-token`, { env })).body).toEqual({ valid: true });
    expect((await call("GET", `${path}?token=guess`, { env })).body).toEqual({ valid: false });
    expectError(await call("GET", path, { env }), 400, "M_MISSING_PARAM");
    expectError(await call("GET", `${path}?token=x`), 403, "M_FORBIDDEN");
  });

  it("refuses registration when closed and guests always", async () => {
    expectError(await call("POST", REGISTER, { env: { REGISTRATION: "closed" }, body: { username: uniqueName() } }), 403, "M_FORBIDDEN");
    expectError(await call("POST", `${REGISTER}?kind=guest`, { body: {} }), 403, "M_GUEST_ACCESS_FORBIDDEN");
  });

  it("enforces localpart rules", async () => {
    for (const username of ["Alice", "a b", "ünïcode", "a:b", "x".repeat(250)]) {
      expectError(await call("POST", REGISTER, { body: { username, auth: { type: "m.login.dummy" } } }), 400, "M_INVALID_USERNAME");
    }
  });

  it("reports availability and M_USER_IN_USE", async () => {
    const user = await registerUser("taken");
    const localpart = user.userId.slice(1).split(":")[0]!;
    expectError(await call("GET", `${REGISTER}/available?username=${localpart}`), 400, "M_USER_IN_USE");
    expect((await call("GET", `${REGISTER}/available?username=${uniqueName()}`)).body).toEqual({ available: true });
    expectError(await call("GET", `${REGISTER}/available?username=BAD`), 400, "M_INVALID_USERNAME");
    expectError(await call("POST", REGISTER, { body: { username: localpart, auth: { type: "m.login.dummy" } } }), 400, "M_USER_IN_USE");
  });

  it("lets exactly one of concurrent registrations of one name win", async () => {
    const username = uniqueName("race");
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call("POST", REGISTER, { body: { username, password: "pw", auth: { type: "m.login.dummy" } } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, "M_USER_IN_USE");
  });

  it("returns only the user id with inhibit_login, and refresh tokens when asked", async () => {
    const inhibited = await call("POST", REGISTER, { body: { username: uniqueName(), inhibit_login: true, auth: { type: "m.login.dummy" } } });
    expect(Object.keys(inhibited.body)).toEqual(["user_id"]);
    const refreshing = await call("POST", REGISTER, { body: { username: uniqueName(), refresh_token: true, auth: { type: "m.login.dummy" } } });
    expect(refreshing.body["refresh_token"]).toMatch(/^mar_/);
    expect(refreshing.body["expires_in_ms"]).toBe(86400000);
  });

  it("generates a localpart when none is given", async () => {
    const res = await call("POST", REGISTER, { body: { auth: { type: "m.login.dummy" } } });
    expect(res.status).toBe(200);
    expect(res.body["user_id"]).toMatch(/^@user[a-z0-9]{12}:localhost:8787$/);
  });

  it("answers wrong body types with M_BAD_JSON", async () => {
    expectError(await call("POST", REGISTER, { body: { username: 42 } }), 400, "M_BAD_JSON");
    expectError(await call("POST", REGISTER, { body: { username: "ok", inhibit_login: "yes" } }), 400, "M_BAD_JSON");
  });
});

describe("rate limiting", () => {
  it("answers 429 M_LIMIT_EXCEEDED with retry_after_ms past the per-IP budget", async () => {
    const env = { RATE_LIMIT_ENABLED: "true", RATE_LIMIT_REGISTER_PER_MINUTE: "3" };
    const headers = { "cf-connecting-ip": `192.0.2.${Math.floor(Math.random() * 250)}` };
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await call("GET", `${REGISTER}/available?username=${uniqueName()}`, { env, headers });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expectError(last!, 429, "M_LIMIT_EXCEEDED");
    expect(last!.body["retry_after_ms"]).toBeGreaterThan(0);
    expect(last!.body["retry_after_ms"]).toBeLessThanOrEqual(60_000);
  });
});
