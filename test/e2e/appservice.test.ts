import { type MatrixClient, Method, createClient } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { api, baseUrl, raw, registeredClient, uniqueName } from "./client";
import { RecordingAppservice } from "./fake-appservice";

const registration = inject("appservice");
const botId = "@_bridge_bot:localhost";
let appservice: RecordingAppservice;

/** A matrix-js-sdk client acting with the as_token: as the bot, or (identity assertion) as a ghost. */
function asClient(userId?: string): MatrixClient {
  return createClient({
    baseUrl: baseUrl(),
    accessToken: registration.asToken,
    userId: userId ?? botId,
    ...(userId ? { queryParams: { user_id: userId } } : {}),
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const received = (eventId: string) => appservice.events.some((e) => e["event_id"] === eventId);

async function registerGhost(): Promise<string> {
  const localpart = uniqueName("_bridge_ghost");
  const res = await asClient().http.authedRequest<{ user_id: string }>(Method.Post, "/register", undefined, {
    type: "m.login.application_service",
    username: localpart,
    inhibit_login: true,
  });
  return res.user_id;
}

/** A room of a normal user with the bot and a ghost joined. */
async function bridgedRoom() {
  const { client: alice } = await registeredClient("alice");
  const ghostId = await registerGhost();
  const ghost = asClient(ghostId);
  const { room_id: roomId } = await alice.createRoom({ invite: [botId, ghostId] });
  await asClient().joinRoom(roomId);
  await ghost.joinRoom(roomId);
  return { alice, ghost, ghostId, roomId };
}

beforeAll(async () => {
  appservice = new RecordingAppservice(registration.port, registration.hsToken);
  await appservice.start();
});

afterAll(async () => {
  await appservice.stop();
});

describe("application service (matrix-appservice receiving, matrix-js-sdk acting)", () => {
  it("answers a ping through the appservice", async () => {
    const res = await api("POST", `/_matrix/client/v1/appservice/${registration.id}/ping`, {
      token: registration.asToken,
      body: { transaction_id: "e2e-ping" },
    });
    expect(res.status).toBe(200);
    expect(typeof res.body["duration_ms"]).toBe("number");
    expect(appservice.pings).toContainEqual({ transaction_id: "e2e-ping" });
  });

  it("pushes a normal user's messages in bridged rooms, and lets the appservice send as its ghosts", async () => {
    const { alice, ghost, ghostId, roomId } = await bridgedRoom();
    const { event_id: fromAlice } = await alice.sendTextMessage(roomId, "hello bridge");
    await waitFor("alice's message at the appservice", () => received(fromAlice));
    const pushed = appservice.events.find((e) => e["event_id"] === fromAlice)!;
    expect(pushed).toMatchObject({ room_id: roomId, sender: alice.getUserId(), type: "m.room.message", content: { body: "hello bridge" } });

    const { event_id: fromGhost } = await ghost.sendTextMessage(roomId, "hello from the other network");
    const seen = await alice.fetchRoomEvent(roomId, fromGhost);
    expect(seen).toMatchObject({ sender: ghostId, content: { body: "hello from the other network" } });
    // The appservice hears its own ghosts too, and the ghost's invite (membership of a namespaced user).
    await waitFor("the ghost's message at the appservice", () => received(fromGhost));
    expect(appservice.events.some((e) => e["type"] === "m.room.member" && e["state_key"] === ghostId && (e["content"] as { membership?: string }).membership === "invite")).toBe(true);
  });

  it("pushes typing and read receipts of bridged rooms (receive_ephemeral)", async () => {
    const { alice, ghost, roomId } = await bridgedRoom();
    await alice.sendTyping(roomId, true, 10_000);
    const aliceId = alice.getUserId()!;
    await waitFor("m.typing", () =>
      appservice.ephemeral.some((e) => e["type"] === "m.typing" && e["room_id"] === roomId && ((e["content"] as { user_ids: string[] }).user_ids.includes(aliceId))),
    );
    const { event_id: eventId } = await ghost.sendTextMessage(roomId, "read me");
    const res = await raw("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {
      token: alice.getAccessToken()!,
      body: {},
    });
    expect(res.status).toBe(200);
    await waitFor("m.receipt", () =>
      appservice.ephemeral.some((e) => {
        const content = e["content"] as Record<string, Record<string, Record<string, unknown>>>;
        return e["type"] === "m.receipt" && e["room_id"] === roomId && content[eventId]?.["m.read"]?.[aliceId] !== undefined;
      }),
    );
  });

  it("asks the appservice about unknown users and aliases in its namespaces", async () => {
    const queried: string[] = [];
    appservice.service.onUserQuery = async (userId: string) => {
      queried.push(userId);
      await asClient().http.authedRequest(Method.Post, "/register", undefined, {
        type: "m.login.application_service",
        username: userId.slice(1, userId.indexOf(":")),
        inhibit_login: true,
      });
    };
    appservice.service.onAliasQuery = async (alias: string) => {
      queried.push(alias);
      await asClient().createRoom({ room_alias_name: alias.slice(1, alias.indexOf(":")) });
    };
    const userId = `@${uniqueName("_bridge_queried")}:localhost`;
    const profile = await raw("GET", `/_matrix/client/v3/profile/${encodeURIComponent(userId)}`);
    expect(profile.status).toBe(200);
    const alias = `#${uniqueName("_bridge_portal")}:localhost`;
    const resolved = await raw("GET", `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`);
    expect(resolved.status).toBe(200);
    expect(resolved.body["room_id"]).toMatch(/^!/);
    expect(queried).toEqual([userId, alias]);
    // Outside every namespace nobody is asked.
    const unknown = await raw("GET", `/_matrix/client/v3/directory/room/${encodeURIComponent(`#${uniqueName("nothing")}:localhost`)}`);
    expect(unknown.status).toBe(404);
    expect(queried).toHaveLength(2);
  });

  it("answers third-party protocol lookups from the appservice", async () => {
    const { client: alice } = await registeredClient("alice");
    const token = alice.getAccessToken()!;
    const protocols = await api("GET", "/_matrix/client/v3/thirdparty/protocols", { token });
    expect(protocols.status).toBe(200);
    expect(protocols.body["bridge"]).toMatchObject({ user_fields: ["handle"], instances: [{ network_id: "net1", instance_id: `${registration.id}|net1` }] });
    const users = await api("GET", "/_matrix/client/v3/thirdparty/user/bridge?handle=bob", { token });
    expect(users.body).toEqual([{ userid: "@_bridge_bob:localhost", protocol: "bridge", fields: { handle: "bob" } }]);
    const byId = await raw("GET", `/_matrix/client/v3/thirdparty/user?userid=${encodeURIComponent("@_bridge_bob:localhost")}`, { token });
    expect(byId.status).toBe(200);
    expect((await raw("GET", "/_matrix/client/v3/thirdparty/protocol/nope", { token })).status).toBe(404);
  });

  it("does not push events of rooms it has no interest in", async () => {
    const { client: bob } = await registeredClient("bob");
    const { room_id: roomId } = await bob.createRoom({});
    const { event_id: privateEvent } = await bob.sendTextMessage(roomId, "not for bridges");
    const { ghost, roomId: bridged } = await bridgedRoom();
    const { event_id: later } = await ghost.sendTextMessage(bridged, "marker");
    await waitFor("the marker", () => received(later));
    expect(received(privateEvent)).toBe(false);
  });

  it("queues 500 events while the appservice is down and delivers them all, in order, once it is back", { timeout: 180_000 }, async () => {
    const { alice, roomId } = await bridgedRoom();
    await appservice.stop();
    const token = alice.getAccessToken()!;
    const sent: string[] = [];
    for (let i = 0; i < 500; i++) {
      const res = await raw("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/down${i}`, {
        token,
        body: { msgtype: "m.text", body: `message ${i}` },
      });
      expect(res.status).toBe(200);
      sent.push(res.body["event_id"] as string);
    }
    expect(sent.some(received)).toBe(false);
    // Back up, but the first two deliveries fail with a 500: the homeserver must resend the same transaction.
    appservice.failTransactions = 2;
    await appservice.start();
    const wanted = new Set(sent);
    await waitFor("all 500 events", () => appservice.events.filter((e) => wanted.has(e["event_id"] as string)).length >= 500, 90_000);

    const order = appservice.events.map((e) => e["event_id"] as string).filter((id) => wanted.has(id));
    expect(order).toEqual(sent);
    // Each txnId carried one body only (a retry resends it unchanged), and no event travelled in two transactions.
    const retried = [...appservice.transactions.values()].filter((bodies) => bodies.length > 1);
    expect(retried.length).toBeGreaterThan(0);
    const perEvent = new Map<string, number>();
    for (const [txnId, bodies] of appservice.transactions) {
      expect(new Set(bodies).size, `txn ${txnId}`).toBe(1);
      for (const event of (JSON.parse(bodies[0]!) as { events: { event_id: string }[] }).events) {
        perEvent.set(event.event_id, (perEvent.get(event.event_id) ?? 0) + 1);
      }
    }
    expect(sent.every((id) => perEvent.get(id) === 1)).toBe(true);
  });
});
