import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";

const URL_OK = "https://push.example.org/_matrix/push/v1/notify";
const pusher = (over: Record<string, unknown> = {}) => ({
  app_id: "org.example.app.ios",
  pushkey: "device-token-1",
  kind: "http",
  app_display_name: "Example",
  device_display_name: "Phone",
  lang: "en",
  data: { url: URL_OK, format: "event_id_only", custom: 1 },
  ...over,
});

const set = (user: TestUser, body: unknown) => call("POST", "/_matrix/client/v3/pushers/set", { token: user.accessToken, body });
async function list(user: TestUser): Promise<Record<string, unknown>[]> {
  const res = await call<{ pushers: Record<string, unknown>[] }>("GET", "/_matrix/client/v3/pushers", { token: user.accessToken });
  expect(res.status).toBe(200);
  return res.body.pushers;
}

describe("pushers", () => {
  it("creates, replaces and deletes a pusher", async () => {
    const alice = await registerUser("pusher");
    expect(await list(alice)).toEqual([]);
    expect((await set(alice, pusher({ profile_tag: "tag" }))).status).toBe(200);
    expect(await list(alice)).toEqual([{ ...pusher({ profile_tag: "tag" }) }]);

    expect((await set(alice, pusher({ device_display_name: "New phone" }))).status).toBe(200);
    expect((await list(alice)).map((p) => p["device_display_name"])).toEqual(["New phone"]);

    expect((await set(alice, pusher({ pushkey: "device-token-2" }))).status).toBe(200);
    expect(await list(alice)).toHaveLength(2);

    expect((await set(alice, { app_id: "org.example.app.ios", pushkey: "device-token-1", kind: null })).status).toBe(200);
    expect((await list(alice)).map((p) => p["pushkey"])).toEqual(["device-token-2"]);
  });

  it("go with the device that set them", async () => {
    const alice = await registerUser("pusher");
    expect((await set(alice, pusher())).status).toBe(200);
    const login = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: alice.password },
    });
    expect(login.status).toBe(200);
    const other = { ...alice, accessToken: login.body["access_token"] as string };
    expect(await list(other)).toHaveLength(1);
    expect((await call("POST", "/_matrix/client/v3/logout", { token: alice.accessToken })).status).toBe(200);
    expect(await list(other)).toEqual([]);
  });

  it("takes a pushkey from other users unless appending", async () => {
    const alice = await registerUser("pusher");
    const bob = await registerUser("pusher");
    const shared = pusher({ pushkey: `shared-${alice.userId}` });
    expect((await set(alice, shared)).status).toBe(200);
    expect((await set(bob, { ...shared, append: true })).status).toBe(200);
    expect(await list(alice)).toHaveLength(1);
    expect((await set(bob, shared)).status).toBe(200);
    expect(await list(alice)).toHaveLength(0);
    expect(await list(bob)).toHaveLength(1);
  });

  it("validates the body", async () => {
    const alice = await registerUser("pusher");
    expectError(await set(alice, pusher({ data: {} })), 400, "M_MISSING_PARAM");
    expectError(await set(alice, pusher({ data: { url: "not a url" } })), 400, "M_INVALID_PARAM");
    expectError(await set(alice, pusher({ data: { url: "http://push.example.org/_matrix/push/v1/notify" } })), 400, "M_INVALID_PARAM");
    expect((await set(alice, pusher({ pushkey: "local", data: { url: "http://127.0.0.1:8088/_matrix/push/v1/notify" } }))).status).toBe(200);
    expect((await set(alice, { app_id: "org.example.app.ios", pushkey: "local", kind: null })).status).toBe(200);
    expectError(await set(alice, pusher({ data: { url: "https://push.example.org/elsewhere" } })), 400, "M_INVALID_PARAM");
    expectError(await set(alice, pusher({ kind: "carrier-pigeon" })), 400, "M_BAD_JSON");
    expectError(await set(alice, pusher({ app_id: "x".repeat(65) })), 400, "M_BAD_JSON");
    expectError(await set(alice, pusher({ lang: undefined })), 400, "M_MISSING_PARAM");
    expectError(await set(alice, { app_id: "a", pushkey: "b" }), 400, "M_MISSING_PARAM");
    expect((await set(alice, pusher({ kind: "email", app_id: "m.email", pushkey: "alice@example.org", data: {} }))).status).toBe(200);
    expect((await list(alice)).map((p) => p["kind"])).toEqual(["email"]);
    expectError(await call("GET", "/_matrix/client/v3/pushers"), 401, "M_MISSING_TOKEN");
  });
});

describe("delivery to push gateways", () => {
  it("posts each notification to the user's http pushers, with the unread badge, and drops rejected pushkeys", async () => {
    const { env } = await import("cloudflare:test");
    const { deliverPushes } = await import("../../src/services/push-delivery");
    const alice = await registerUser("pusher");
    expect((await set(alice, pusher({ pushkey: "good", data: { url: URL_OK, custom: 1 } }))).status).toBe(200);
    expect((await set(alice, pusher({ pushkey: "stale", data: { url: URL_OK, format: "event_id_only" } }))).status).toBe(200);
    const calls: { url: string; body: { notification: Record<string, unknown> } }[] = [];
    const fakeGateway = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const body = JSON.parse(init!.body as string) as { notification: { devices: { pushkey: string }[] } };
      calls.push({ url: String(input), body });
      const rejected = body.notification.devices[0]!.pushkey === "stale" ? ["stale"] : [];
      return new Response(JSON.stringify({ rejected }), { headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const event = { event_id: "$x", room_id: "!r:localhost", type: "m.room.message", sender: "@bob:localhost", content: { body: "hi" }, sender_display_name: null, room_name: null };
    const rows = [
      { userId: alice.userId, notify: true, highlight: false, actions: ["notify" as const] },
      { userId: "@nobody:localhost", notify: true, highlight: false, actions: ["notify" as const] },
    ];
    await deliverPushes(env, event, rows, fakeGateway);
    expect(calls.map((c) => c.url)).toEqual([URL_OK, URL_OK]);
    const full = calls.find((c) => (c.body.notification["devices"] as { pushkey: string }[])[0]!.pushkey === "good")!;
    expect(full.body.notification).toMatchObject({ event_id: "$x", type: "m.room.message", counts: { unread: 0 }, prio: "low" });
    expect((full.body.notification["devices"] as { data: unknown }[])[0]!.data).toEqual({ custom: 1 });
    expect((await list(alice)).map((p) => p["pushkey"])).toEqual(["good"]);

    // Not notified (notify false): nothing is sent.
    calls.length = 0;
    await deliverPushes(env, event, [{ userId: alice.userId, notify: false, highlight: true, actions: [] }], fakeGateway);
    expect(calls).toEqual([]);
  });

  it("tries a failing gateway again with backoff (no answer, 5xx, 429) until it takes the notification; a 400 is not retried", async () => {
    const { env } = await import("cloudflare:test");
    const { deliverPushes } = await import("../../src/services/push-delivery");
    const alice = await registerUser("pusher");
    expect((await set(alice, pusher({ pushkey: "flaky", data: { url: URL_OK } }))).status).toBe(200);
    const event = { event_id: "$y", room_id: "!r:localhost", type: "m.room.message", sender: "@bob:localhost", content: { body: "hi" }, sender_display_name: null, room_name: null };
    const rows = [{ userId: alice.userId, notify: true, highlight: false, actions: ["notify" as const] }];
    const gateway = (answers: Array<number | "down">) => {
      const attempts: string[] = [];
      const fetcher = (async (_input: RequestInfo | URL, init?: RequestInit) => {
        const answer = answers[attempts.length] ?? 200;
        attempts.push((JSON.parse(init!.body as string) as { notification: { event_id: string } }).notification.event_id);
        if (answer === "down") throw new TypeError("fetch failed");
        return new Response(JSON.stringify({ rejected: [] }), { status: answer, headers: { "content-type": "application/json" } });
      }) as typeof fetch;
      return { fetcher, attempts };
    };
    const flaky = gateway(["down", 503, 429]);
    await deliverPushes(env, event, rows, flaky.fetcher, [1, 1, 1, 1]);
    expect(flaky.attempts).toEqual(["$y", "$y", "$y", "$y"]);
    const refusing = gateway([400]);
    await deliverPushes(env, event, rows, refusing.fetcher, [1, 1, 1, 1]);
    expect(refusing.attempts).toHaveLength(1);
    const dead = gateway(["down", "down", "down", "down", "down", "down"]);
    await deliverPushes(env, event, rows, dead.fetcher, [1, 1]);
    expect(dead.attempts).toHaveLength(3);
    expect((await list(alice)).map((p) => p["pushkey"])).toEqual(["flaky"]);
  });
});
