import { describe, expect, it } from "vitest";
import { call, expectError, registerUser, uniqueName } from "../helpers";

const AS_TOKEN = "as-token-routes-test";
const registrations = [
  {
    id: "discord",
    // Nothing listens on port 9: pushes and pings fail fast.
    url: "http://127.0.0.1:9",
    as_token: "${TEST_DISCORD_AS_TOKEN}",
    hs_token: "hs-token-routes-test",
    sender_localpart: "_discord_bot",
    rate_limited: false,
    protocols: ["discord"],
    "org.matrix.msc3202": true,
    namespaces: {
      users: [{ exclusive: true, regex: "@_discord_[a-z0-9]+:localhost:8787" }],
      aliases: [{ exclusive: true, regex: "#_discord_.*:localhost:8787" }],
    },
  },
  { id: "no-url", url: null, as_token: "as-token-no-url", hs_token: "hs-token-no-url", sender_localpart: "nourlbot" },
];
const asEnv = { env: { APPSERVICES: JSON.stringify(registrations), TEST_DISCORD_AS_TOKEN: AS_TOKEN } };

function asCall(method: string, path: string, opts: { body?: unknown; token?: string } = {}) {
  return call(method, path, { token: AS_TOKEN, ...opts, ...asEnv });
}

async function registerGhost(localpart = uniqueName("_discord_").toLowerCase()): Promise<string> {
  const res = await asCall("POST", "/_matrix/client/v3/register", {
    body: { type: "m.login.application_service", username: localpart, inhibit_login: true },
  });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ user_id: `@${localpart}:localhost:8787` });
  return res.body["user_id"] as string;
}

describe("appservice namespaces", () => {
  it("a normal user cannot register a name in an exclusive namespace", async () => {
    const res = await call("POST", "/_matrix/client/v3/register", {
      body: { username: "_discord_123", password: "a long password", auth: { type: "m.login.dummy" } },
      ...asEnv,
    });
    expectError(res, 400, "M_EXCLUSIVE");
    expectError(await call("GET", "/_matrix/client/v3/register/available?username=_discord_123", asEnv), 400, "M_EXCLUSIVE");
    // The sender is reserved too.
    const sender = await call("GET", "/_matrix/client/v3/register/available?username=_discord_bot", asEnv);
    expectError(sender, 400, "M_EXCLUSIVE");
  });

  it("the appservice registers users in its namespace without UIA, and only there", async () => {
    await registerGhost();
    const outside = await asCall("POST", "/_matrix/client/v3/register", {
      body: { type: "m.login.application_service", username: uniqueName("alice") },
    });
    expectError(outside, 400, "M_EXCLUSIVE");
    const withLogin = await asCall("POST", "/_matrix/client/v3/register", {
      body: { type: "m.login.application_service", username: uniqueName("_discord_").toLowerCase() },
    });
    expect(withLogin.status).toBe(200);
    expect(typeof withLogin.body["access_token"]).toBe("string");
  });

  it("works even when registration is closed", async () => {
    const res = await call("POST", "/_matrix/client/v3/register", {
      token: AS_TOKEN,
      body: { type: "m.login.application_service", username: uniqueName("_discord_").toLowerCase(), inhibit_login: true },
      env: { ...asEnv.env, REGISTRATION: "closed" },
    });
    expect(res.status).toBe(200);
  });

  it("the application_service type needs a valid as_token", async () => {
    const body = { type: "m.login.application_service", username: "_discord_999" };
    expectError(await call("POST", "/_matrix/client/v3/register", { body, ...asEnv }), 401, "M_MISSING_TOKEN");
    expectError(await call("POST", "/_matrix/client/v3/register", { body, token: "not-a-token", ...asEnv }), 401, "M_UNKNOWN_TOKEN");
    const login = { type: "m.login.application_service", identifier: { type: "m.id.user", user: "_discord_999" } };
    expectError(await call("POST", "/_matrix/client/v3/login", { body: login, ...asEnv }), 401, "M_MISSING_TOKEN");
  });

  it("a normal user cannot create aliases in an exclusive namespace; the appservice only inside its own", async () => {
    const alice = await registerUser("alice");
    const created = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: {}, ...asEnv });
    const roomId = created.body["room_id"] as string;
    const alias = `#_discord_${uniqueName("x")}:localhost:8787`;
    const put = await call("PUT", `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`, {
      token: alice.accessToken,
      body: { room_id: roomId },
      ...asEnv,
    });
    expectError(put, 400, "M_EXCLUSIVE");
    const viaCreate = await call("POST", "/_matrix/client/v3/createRoom", {
      token: alice.accessToken,
      body: { room_alias_name: `_discord_${uniqueName("y")}` },
      ...asEnv,
    });
    expectError(viaCreate, 400, "M_EXCLUSIVE");

    const asRoom = await asCall("POST", "/_matrix/client/v3/createRoom", { body: { room_alias_name: `_discord_${uniqueName("z")}` } });
    expect(asRoom.status).toBe(200);
    const elsewhere = await asCall("POST", "/_matrix/client/v3/createRoom", { body: { room_alias_name: uniqueName("plain") } });
    expectError(elsewhere, 400, "M_EXCLUSIVE");
  });
});

describe("appservice identity assertion", () => {
  it("acts as the sender, or as a registered user in its namespace", async () => {
    const me = await asCall("GET", "/_matrix/client/v3/account/whoami");
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user_id: "@_discord_bot:localhost:8787", is_guest: false });
    const ghost = await registerGhost();
    const asGhost = await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(ghost)}`);
    expect(asGhost.body["user_id"]).toBe(ghost);
  });

  it("cannot assert a user outside its namespace, or one it has not registered", async () => {
    const alice = await registerUser("alice");
    const outside = await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent(alice.userId)}`);
    expectError(outside, 403, "M_FORBIDDEN");
    const unregistered = await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent("@_discord_nobody1:localhost:8787")}`);
    expectError(unregistered, 403, "M_FORBIDDEN");
    // A user token cannot assert anything: user_id is ignored for it.
    const plain = await call("GET", `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent("@_discord_bot:localhost:8787")}`, {
      token: alice.accessToken,
      ...asEnv,
    });
    expect(plain.body["user_id"]).toBe(alice.userId);
    expectError(await asCall("GET", "/_matrix/client/v3/account/whoami", { token: "as-token-wrong" }), 401, "M_UNKNOWN_TOKEN");
  });

  it("creates, uses and deletes devices without UIA (MSC4190), and refuses unknown ones", async () => {
    const ghost = encodeURIComponent(await registerGhost());
    expectError(await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${ghost}&device_id=GHOSTDEV`), 400, "M_UNKNOWN_DEVICE");
    expect((await asCall("PUT", `/_matrix/client/v3/devices/GHOSTDEV?user_id=${ghost}`, { body: { display_name: "bridge" } })).status).toBe(200);
    const onDevice = await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${ghost}&device_id=GHOSTDEV`);
    expect(onDevice.body).toMatchObject({ user_id: decodeURIComponent(ghost), device_id: "GHOSTDEV" });
    const msc3202 = await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${ghost}&org.matrix.msc3202.device_id=GHOSTDEV`);
    expect(msc3202.body["device_id"]).toBe("GHOSTDEV");
    expect((await asCall("DELETE", `/_matrix/client/v3/devices/GHOSTDEV?user_id=${ghost}`, { body: {} })).status).toBe(200);
    expectError(await asCall("GET", `/_matrix/client/v3/account/whoami?user_id=${ghost}&device_id=GHOSTDEV`), 400, "M_UNKNOWN_DEVICE");
  });

  it("logs in as its users with m.login.application_service, only inside its namespace", async () => {
    const ghost = await registerGhost();
    const res = await asCall("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: ghost } },
    });
    expect(res.status).toBe(200);
    expect(res.body["user_id"]).toBe(ghost);
    const me = await call("GET", "/_matrix/client/v3/account/whoami", { token: res.body["access_token"] as string, ...asEnv });
    expect(me.body["user_id"]).toBe(ghost);
    const alice = await registerUser("alice");
    const outside = await asCall("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.application_service", identifier: { type: "m.id.user", user: alice.userId } },
    });
    expectError(outside, 400, "M_EXCLUSIVE");
  });

  it("exempts appservices with rate_limited: false from the login rate limit, and only those", async () => {
    const limited = { ...asEnv.env, RATE_LIMIT_ENABLED: "true", RATE_LIMIT_LOGIN_PER_MINUTE: "2" };
    const ghost = await registerGhost();
    const login = (token: string, user: string) =>
      call("POST", "/_matrix/client/v3/login", { token, body: { type: "m.login.application_service", identifier: { type: "m.id.user", user } }, env: limited });
    for (let i = 0; i < 4; i++) expect((await login(AS_TOKEN, ghost)).status).toBe(200);
    // The no-url appservice keeps the default rate_limited: true; its first request creates its sender.
    await call("GET", "/_matrix/client/v3/account/whoami", { token: "as-token-no-url", env: limited });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await login("as-token-no-url", "@nourlbot:localhost:8787")).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("sets origin_server_ts from ?ts= for appservices only", async () => {
    const room = await asCall("POST", "/_matrix/client/v3/createRoom", { body: {} });
    const roomId = encodeURIComponent(room.body["room_id"] as string);
    const sent = await asCall("PUT", `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/t1?ts=1234567890`, { body: { msgtype: "m.text", body: "old" } });
    expect(sent.status).toBe(200);
    const event = await asCall("GET", `/_matrix/client/v3/rooms/${roomId}/event/${encodeURIComponent(sent.body["event_id"] as string)}`);
    expect(event.body["origin_server_ts"]).toBe(1234567890);
    const state = await asCall("PUT", `/_matrix/client/v3/rooms/${roomId}/state/m.room.topic/?ts=1234567891`, { body: { topic: "t" } });
    const topic = await asCall("GET", `/_matrix/client/v3/rooms/${roomId}/event/${encodeURIComponent(state.body["event_id"] as string)}`);
    expect(topic.body["origin_server_ts"]).toBe(1234567891);
    expectError(await asCall("PUT", `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/t2?ts=yesterday`, { body: {} }), 400, "M_INVALID_PARAM");

    const alice = await registerUser("alice");
    const own = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: {}, ...asEnv });
    const ownId = encodeURIComponent(own.body["room_id"] as string);
    const plain = await call("PUT", `/_matrix/client/v3/rooms/${ownId}/send/m.room.message/t1?ts=1234567890`, {
      token: alice.accessToken,
      body: { msgtype: "m.text", body: "now" },
      ...asEnv,
    });
    const plainEvent = await call("GET", `/_matrix/client/v3/rooms/${ownId}/event/${encodeURIComponent(plain.body["event_id"] as string)}`, {
      token: alice.accessToken,
      ...asEnv,
    });
    expect(plainEvent.body["origin_server_ts"]).toBeGreaterThan(1_700_000_000_000);
  });
});

describe("appservice ping", () => {
  it("pings only its own appservice and reports connection failures", async () => {
    expectError(await asCall("POST", "/_matrix/client/v1/appservice/other/ping", { body: {} }), 403, "M_FORBIDDEN");
    const alice = await registerUser("alice");
    const asUser = await call("POST", "/_matrix/client/v1/appservice/discord/ping", { token: alice.accessToken, body: {}, ...asEnv });
    expectError(asUser, 403, "M_FORBIDDEN");
    expectError(await asCall("POST", "/_matrix/client/v1/appservice/discord/ping", { body: { transaction_id: "t" } }), 502, "M_CONNECTION_FAILED");
    const noUrl = await asCall("POST", "/_matrix/client/v1/appservice/no-url/ping", { body: {}, token: "as-token-no-url" });
    expectError(noUrl, 400, "M_URL_NOT_SET");
  });
});

describe("third-party lookups", () => {
  it("needs a token, and answers nothing found when the appservice is unreachable", async () => {
    expectError(await call("GET", "/_matrix/client/v3/thirdparty/protocols", asEnv), 401, "M_MISSING_TOKEN");
    const alice = await registerUser("alice");
    const get = (path: string) => call("GET", `/_matrix/client/v3/thirdparty/${path}`, { token: alice.accessToken, ...asEnv });
    const protocols = await get("protocols");
    expect(protocols.status).toBe(200);
    expect(protocols.body).toEqual({});
    expectError(await get("protocol/discord"), 404, "M_NOT_FOUND");
    expectError(await get("location/unknown"), 404, "M_NOT_FOUND");
    const locations = await get("location/discord?channel=x");
    expect({ status: locations.status, body: locations.body }).toEqual({ status: 200, body: [] });
    expectError(await get("user"), 400, "M_MISSING_PARAM");
    expectError(await get("user?userid=%40x%3Alocalhost"), 404, "M_NOT_FOUND");
  });
});

describe("appservice registry errors", () => {
  it("every request answers a registration error naming the entry", async () => {
    const broken = JSON.stringify([{ ...registrations[0], as_token: "x" }, { ...registrations[0], as_token: "y", hs_token: "z" }]);
    const res = await call("GET", "/_matrix/client/versions", { env: { APPSERVICES: broken } });
    expectError(res, 500, "M_UNKNOWN");
    expect(res.body["error"]).toMatch(/APPSERVICES\[1\] \(id "discord"\): duplicate id/);
    const missingSecret = await call("GET", "/_matrix/client/versions", { env: { APPSERVICES: JSON.stringify([registrations[0]]) } });
    expect(missingSecret.body["error"]).toMatch(/APPSERVICES\[0\]: secret \$\{TEST_DISCORD_AS_TOKEN\} is not set/);
    const notJson = await call("GET", "/_matrix/client/versions", { env: { APPSERVICES: "{" } });
    expect(notJson.body["error"]).toMatch(/APPSERVICES: not JSON/);
  });
});
