import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "./helpers";

async function loginAgain(user: TestUser, password = user.password): Promise<{ token: string; deviceId: string }> {
  const res = await call("POST", "/_matrix/client/v3/login", {
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password },
  });
  expect(res.status).toBe(200);
  return { token: res.body["access_token"] as string, deviceId: res.body["device_id"] as string };
}

/** Completes a password UIA round: first call gets the session, second call passes the password stage. */
async function withPasswordAuth(method: string, path: string, user: TestUser, token: string, body: Record<string, unknown>) {
  const challenge = await call(method, path, { token, body });
  expect(challenge.status).toBe(401);
  expect(challenge.body["flows"]).toEqual([{ stages: ["m.login.password"] }]);
  const auth = {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: user.userId },
    password: user.password,
    session: challenge.body["session"],
  };
  return call(method, path, { token, body: { ...body, auth } });
}

describe("devices", () => {
  it("lists, reads and renames devices", async () => {
    const user = await registerUser("dev");
    const list = await call<{ devices: Record<string, unknown>[] }>("GET", "/_matrix/client/v3/devices", { token: user.accessToken });
    expect(list.body.devices).toHaveLength(1);
    expect(list.body.devices[0]!["device_id"]).toBe(user.deviceId);
    expect(typeof list.body.devices[0]!["last_seen_ts"]).toBe("number");
    const path = `/_matrix/client/v3/devices/${user.deviceId}`;
    expect((await call("PUT", path, { token: user.accessToken, body: { display_name: "Laptop" } })).status).toBe(200);
    expect((await call("GET", path, { token: user.accessToken })).body["display_name"]).toBe("Laptop");
    expectError(await call("GET", "/_matrix/client/v3/devices/NOPE", { token: user.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("PUT", "/_matrix/client/v3/devices/NOPE", { token: user.accessToken, body: { display_name: "x" } }), 404, "M_NOT_FOUND");
    expectError(await call("PUT", path, { token: user.accessToken, body: { display_name: 7 } }), 400, "M_BAD_JSON");
  });

  it("cannot see or touch another user's devices", async () => {
    const alice = await registerUser("alice");
    const bob = await registerUser("bob");
    expectError(await call("GET", `/_matrix/client/v3/devices/${alice.deviceId}`, { token: bob.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("DELETE", `/_matrix/client/v3/devices/${alice.deviceId}`, { token: bob.accessToken, body: {} }), 404, "M_NOT_FOUND");
  });

  it("deletes a device behind password UIA and revokes its token", async () => {
    const user = await registerUser("deldev");
    const second = await loginAgain(user);
    const res = await withPasswordAuth("DELETE", `/_matrix/client/v3/devices/${second.deviceId}`, user, user.accessToken, {});
    expect(res.status).toBe(200);
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: second.token }), 401, "M_UNKNOWN_TOKEN");
  });

  it("refuses a wrong password in UIA and keeps the session usable", async () => {
    const user = await registerUser("badauth");
    const second = await loginAgain(user);
    const path = `/_matrix/client/v3/devices/${second.deviceId}`;
    const challenge = await call("DELETE", path, { token: user.accessToken, body: {} });
    const session = challenge.body["session"];
    const wrong = await call("DELETE", path, { token: user.accessToken, body: { auth: { type: "m.login.password", password: "nope", session } } });
    expect(wrong.status).toBe(401);
    expect(wrong.body["errcode"]).toBe("M_FORBIDDEN");
    const right = await call("DELETE", path, { token: user.accessToken, body: { auth: { type: "m.login.password", password: user.password, session } } });
    expect(right.status).toBe(200);
  });

  it("bulk-deletes devices", async () => {
    const user = await registerUser("bulk");
    const a = await loginAgain(user);
    const b = await loginAgain(user);
    const res = await withPasswordAuth("POST", "/_matrix/client/v3/delete_devices", user, user.accessToken, { devices: [a.deviceId, b.deviceId] });
    expect(res.status).toBe(200);
    const list = await call<{ devices: { device_id: string }[] }>("GET", "/_matrix/client/v3/devices", { token: user.accessToken });
    expect(list.body.devices.map((d) => d.device_id)).toEqual([user.deviceId]);
  });
});

describe("profile", () => {
  it("sets and reads display name and avatar", async () => {
    const user = await registerUser("prof");
    const base = `/_matrix/client/v3/profile/${encodeURIComponent(user.userId)}`;
    expect((await call("PUT", `${base}/displayname`, { token: user.accessToken, body: { displayname: "Alice A." } })).status).toBe(200);
    expect((await call("PUT", `${base}/avatar_url`, { token: user.accessToken, body: { avatar_url: "mxc://localhost:8787/abcDEF123" } })).status).toBe(200);
    expect((await call("GET", `${base}/displayname`)).body).toEqual({ displayname: "Alice A." });
    expect((await call("GET", base)).body).toEqual({ displayname: "Alice A.", avatar_url: "mxc://localhost:8787/abcDEF123" });
  });

  it("refuses changes to someone else's profile and bad values", async () => {
    const alice = await registerUser("palice");
    const bob = await registerUser("pbob");
    const path = `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`;
    expectError(await call("PUT", path, { token: bob.accessToken, body: { displayname: "evil" } }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { displayname: 5 } }), 400, "M_BAD_JSON");
    const avatar = `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/avatar_url`;
    expectError(await call("PUT", avatar, { token: alice.accessToken, body: { avatar_url: "https://evil.example/x.png" } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", path, { body: { displayname: "anon" } }), 401, "M_MISSING_TOKEN");
  });

  it("answers M_NOT_FOUND for unknown users and fields that are not set", async () => {
    const user = await registerUser("nf");
    expectError(await call("GET", "/_matrix/client/v3/profile/%40ghost%3Alocalhost%3A8787"), 404, "M_NOT_FOUND");
    expectError(await call("GET", `/_matrix/client/v3/profile/${encodeURIComponent(user.userId)}/avatar_url`), 404, "M_NOT_FOUND");
    expectError(await call("GET", "/_matrix/client/v3/profile/not-a-user-id"), 400, "M_INVALID_PARAM");
  });
});

describe("password and deactivation", () => {
  it("changes the password behind UIA and signs out other devices", async () => {
    const user = await registerUser("pwchange");
    const other = await loginAgain(user);
    const res = await withPasswordAuth("POST", "/_matrix/client/v3/account/password", user, user.accessToken, { new_password: "brand new pw" });
    expect(res.status).toBe(200);
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: other.token }), 401, "M_UNKNOWN_TOKEN");
    expect((await call("GET", "/_matrix/client/v3/account/whoami", { token: user.accessToken })).status).toBe(200);
    await loginAgain(user, "brand new pw");
    const old = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
    });
    expectError(old, 403, "M_FORBIDDEN");
  });

  it("does not accept another user's password in the password stage", async () => {
    const alice = await registerUser("uiaalice");
    const mallory = await registerUser("uiamallory");
    const challenge = await call("POST", "/_matrix/client/v3/account/password", { token: alice.accessToken, body: { new_password: "x" } });
    const res = await call("POST", "/_matrix/client/v3/account/password", {
      token: alice.accessToken,
      body: {
        new_password: "x",
        auth: { type: "m.login.password", identifier: { type: "m.id.user", user: mallory.userId }, password: mallory.password, session: challenge.body["session"] },
      },
    });
    expect(res.status).toBe(401);
    expect(res.body["errcode"]).toBe("M_FORBIDDEN");
  });

  it("deactivates an account for good", async () => {
    const user = await registerUser("deact");
    const res = await withPasswordAuth("POST", "/_matrix/client/v3/account/deactivate", user, user.accessToken, {});
    expect(res.body).toEqual({ id_server_unbind_result: "no-support" });
    expectError(await call("GET", "/_matrix/client/v3/account/whoami", { token: user.accessToken }), 401, "M_UNKNOWN_TOKEN");
    const login = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
    });
    expectError(login, 403, "M_FORBIDDEN");
    const localpart = user.userId.slice(1).split(":")[0];
    expectError(await call("GET", `/_matrix/client/v3/register/available?username=${localpart}`), 400, "M_USER_IN_USE");
  });
});
