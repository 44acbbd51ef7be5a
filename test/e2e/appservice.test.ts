import { type MatrixClient, Method, createClient } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  DeviceId,
  DeviceLists,
  KeysQueryRequest,
  KeysUploadRequest,
  OlmMachine,
  ProcessedToDeviceEventType,
  UserId,
  initAsync,
} from "@matrix-org/matrix-sdk-crypto-wasm";
import { api, baseUrl, raw, registeredClient, syncUntilPrepared, uniqueName } from "./client";
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

async function waitForValue<T>(what: string, value: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await value();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The crypto of a bridge's device, as an encrypting bridge runs it: the Rust SDK's OlmMachine, whose key uploads and
 * queries go out with the as_token, masquerading as the device (MSC3202), and which is fed from transactions.
 */
async function bridgeDevice(userId: string, deviceId: string) {
  await initAsync();
  const machine = await OlmMachine.initialize(new UserId(userId), new DeviceId(deviceId));
  const masquerade = `user_id=${encodeURIComponent(userId)}&org.matrix.msc3202.device_id=${deviceId}`;
  let oneTimeKeys = 0;
  const sendOutgoing = async () => {
    for (const request of await machine.outgoingRequests()) {
      if (!(request instanceof KeysUploadRequest || request instanceof KeysQueryRequest)) continue;
      const path = request instanceof KeysUploadRequest ? "upload" : "query";
      const res = await api("POST", `/_matrix/client/v3/keys/${path}?${masquerade}`, { token: registration.asToken, body: JSON.parse(request.body) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      if (path === "upload") oneTimeKeys = (res.body["one_time_key_counts"] as Record<string, number>)["signed_curve25519"] ?? 0;
      await machine.markRequestAsSent(request.id, request.type, JSON.stringify(res.body));
    }
  };
  await sendOutgoing();
  return { machine, sendOutgoing, oneTimeKeys: () => oneTimeKeys };
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

  it("pushes a Rust-crypto user's to-device message to a ghost's device in a transaction, with the key counts", async () => {
    // matrix-appservice 3.0.0 drops these fields, so they are read from the recorded bodies.
    const ghostId = await registerGhost();
    const deviceId = "BRIDGEDEV";
    await asClient(ghostId).http.authedRequest(Method.Put, `/devices/${deviceId}`, undefined, {});
    const { client: alice } = await registeredClient("alice");
    await alice.initRustCrypto({ useIndexedDB: false });
    try {
      await syncUntilPrepared(alice);
      const encryption = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };
      const { room_id: roomId } = await alice.createRoom({ invite: [ghostId], initial_state: [encryption] });
      await asClient(ghostId).joinRoom(roomId);
      // Once the queue has delivered the join, it reports every later device list change (its cursor has started).
      await waitFor("the ghost's join at the appservice", () =>
        appservice.events.some((e) => e["type"] === "m.room.member" && e["state_key"] === ghostId && (e["content"] as { membership?: string }).membership === "join"),
      );
      const bridge = await bridgeDevice(ghostId, deviceId);
      expect(bridge.oneTimeKeys()).toBeGreaterThan(1);
      const crypto = alice.getCrypto()!;
      await waitForValue("alice's crypto to know the ghost's device", async () =>
        (await crypto.getUserDeviceInfo([ghostId])).get(ghostId)?.has(deviceId) ? true : undefined,
      );
      const payload = { body: "to the bridge", nonce: uniqueName("n") };
      const batch = await crypto.encryptToDeviceMessages("org.example.bridge", [{ userId: ghostId, deviceId }], payload);
      expect(batch.batch).toHaveLength(1);
      await alice.queueToDevice(batch);

      type ToDevice = { type: string; sender: string; content: Record<string, unknown>; to_user_id: string; to_device_id: string };
      const { txn, message } = await waitForValue("the to-device message at the appservice", () => {
        for (const txn of appservice.bodies()) {
          const message = (txn["de.sorunome.msc2409.to_device"] as ToDevice[] | undefined)?.find((m) => m.to_user_id === ghostId);
          if (message) return { txn, message };
        }
        return undefined;
      });
      expect(message).toMatchObject({ type: "m.room.encrypted", sender: alice.getUserId(), to_device_id: deviceId, content: { algorithm: "m.olm.v1.curve25519-aes-sha2" } });
      // Alice claimed one of the device's one-time keys to reach it; the transaction says how many are left.
      const counts = (txn["org.matrix.msc3202.device_one_time_keys_count"] as Record<string, Record<string, Record<string, number>>>)[ghostId]![deviceId]!;
      expect(counts["signed_curve25519"]).toBe(bridge.oneTimeKeys() - 1);
      const fallback = (txn["org.matrix.msc3202.device_unused_fallback_key_types"] as Record<string, Record<string, string[]>>)[ghostId]![deviceId]!;
      // The device's own key upload reached the appservice as a device list change of its user.
      expect(appservice.bodies().some((b) => (b["org.matrix.msc3202.device_lists"] as { changed: string[] } | undefined)?.changed.includes(ghostId))).toBe(true);

      // The bridge decrypts it from what the transaction carries, exactly as a client would from /sync.
      await bridge.machine.updateTrackedUsers([new UserId(alice.getUserId()!)]);
      await bridge.sendOutgoing();
      const processed = await bridge.machine.receiveSyncChanges(JSON.stringify([message]), new DeviceLists(), new Map(Object.entries(counts)), new Set(fallback));
      const decrypted = processed.find((e) => e.type === ProcessedToDeviceEventType.Decrypted);
      expect(decrypted, "decrypted by the bridge's device").toBeDefined();
      expect(JSON.parse(decrypted!.rawEvent)).toMatchObject({ type: "org.example.bridge", sender: alice.getUserId(), content: payload });
      // Delivered to the appservice, not left in the device's inbox.
      const sync = await api("GET", `/_matrix/client/v3/sync?user_id=${encodeURIComponent(ghostId)}&device_id=${deviceId}&timeout=0`, { token: registration.asToken });
      expect(sync.body["to_device"]).toEqual({ events: [] });
    } finally {
      alice.stopClient();
    }
  });

  it("lists the rooms the appservice publishes in its network's directory", async () => {
    const { client: alice } = await registeredClient("alice");
    const { room_id: roomId } = await alice.createRoom({ name: "bridged portal" });
    const path = `/_matrix/client/v3/directory/list/appservice/net1/${encodeURIComponent(roomId)}`;
    // raw: the spec documents only the 200 of this endpoint, so the refusal is not schema-checked.
    const refused = await raw("PUT", path, { token: alice.getAccessToken()!, body: { visibility: "public" } });
    expect(refused.status).toBe(403);
    expect(refused.body["errcode"]).toBe("M_FORBIDDEN");
    expect((await api("PUT", path, { token: registration.asToken, body: { visibility: "public" } })).status).toBe(200);
    const instance = { third_party_instance_id: `${registration.id}|net1` };
    const listed = await api("POST", "/_matrix/client/v3/publicRooms", { token: alice.getAccessToken()!, body: instance });
    expect(listed.body["chunk"]).toEqual([expect.objectContaining({ room_id: roomId, name: "bridged portal" })]);
    expect((await alice.publicRooms({ include_all_networks: true, limit: 500 })).chunk.map((r) => r.room_id)).toContain(roomId);
    expect((await alice.publicRooms({ limit: 500 })).chunk.map((r) => r.room_id)).not.toContain(roomId);
    expect((await api("PUT", path, { token: registration.asToken, body: { visibility: "private" } })).status).toBe(200);
    expect((await alice.publicRooms(instance)).chunk).toEqual([]);
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
