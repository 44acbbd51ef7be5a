import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ClientEvent, type MatrixClient, MsgType, NotificationCountType, SyncState } from "matrix-js-sdk";
import { api, registeredClient, syncUntilPrepared } from "./client";

const r = encodeURIComponent;
const running: MatrixClient[] = [];

afterEach(() => {
  for (const client of running.splice(0)) client.stopClient();
});

/** Starts the SDK's sync loop (stopped after the tests) and waits for its first sync. */
async function startSyncing(client: MatrixClient): Promise<void> {
  running.push(client);
  await syncUntilPrepared(client);
}

/** Resolves once the SDK's count for `roomId` (from /sync) reaches `total` notifications and `highlight` highlights. */
function counts(client: MatrixClient, roomId: string, total: number, highlight: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      const room = client.getRoom(roomId);
      if (!room) return;
      if (room.getUnreadNotificationCount(NotificationCountType.Total) !== total) return;
      if (room.getUnreadNotificationCount(NotificationCountType.Highlight) !== highlight) return;
      client.off(ClientEvent.Sync, check);
      resolve();
    };
    client.on(ClientEvent.Sync, check);
    check();
  });
}

describe("push rules, counts, pushers and presence (spec-validated)", () => {
  it("manages push rules in the spec's shapes, and matrix-js-sdk reads them", async () => {
    const { client: alice } = await registeredClient("pushe2e");
    const token = alice.getAccessToken()!;
    const all = await api("GET", "/_matrix/client/v3/pushrules/", { token });
    expect(all.status).toBe(200);

    const put = await api("PUT", "/_matrix/client/v3/pushrules/global/content/cake", { token, body: { pattern: "cake*lie", actions: ["notify"] } });
    expect(put.status).toBe(200);
    const rule = await api("GET", "/_matrix/client/v3/pushrules/global/content/cake", { token });
    expect(rule.body).toMatchObject({ rule_id: "cake", pattern: "cake*lie", enabled: true, default: false });
    expect((await api("PUT", "/_matrix/client/v3/pushrules/global/content/cake/enabled", { token, body: { enabled: false } })).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/pushrules/global/content/cake/enabled", { token })).body).toEqual({ enabled: false });
    expect((await api("GET", "/_matrix/client/v3/pushrules/global/override/.m.rule.master/actions", { token })).body).toEqual({ actions: [] });
    expect((await api("GET", "/_matrix/client/v3/pushrules/global/content/nothing", { token })).status).toBe(404);

    const sdkRules = await alice.getPushRules();
    expect(sdkRules?.global.content?.map((c) => c.rule_id)).toEqual(["cake"]);
    expect((await api("DELETE", "/_matrix/client/v3/pushrules/global/content/cake", { token })).status).toBe(200);
  });

  it("counts notifications and highlights in /sync, and a read receipt clears them", async () => {
    const { client: alice } = await registeredClient("counta");
    const { client: bob } = await registeredClient("countb");
    const { room_id: roomId } = await alice.createRoom({ name: "Counts e2e" });
    await alice.invite(roomId, bob.getUserId()!);
    await bob.joinRoom(roomId);
    await startSyncing(bob);

    const unread = counts(bob, roomId, 2, 1);
    await alice.sendTextMessage(roomId, "hello");
    const { event_id: mention } = await alice.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: "bob: look",
      "m.mentions": { user_ids: [bob.getUserId()!] },
    });
    await unread;

    const raw = await api("GET", `/_matrix/client/v3/sync?filter=${r(JSON.stringify({ room: { timeline: { limit: 1, unread_thread_notifications: true } } }))}`, {
      token: bob.getAccessToken()!,
    });
    const room = (raw.body["rooms"] as { join: Record<string, { unread_notifications: unknown }> }).join[roomId]!;
    expect(room.unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });

    const cleared = counts(bob, roomId, 0, 0);
    const receipt = await api("POST", `/_matrix/client/v3/rooms/${r(roomId)}/receipt/m.read/${r(mention)}`, { token: bob.getAccessToken()!, body: {} });
    expect(receipt.status).toBe(200);
    await cleared;

    const notifications = await api("GET", "/_matrix/client/v3/notifications?limit=5", { token: bob.getAccessToken()! });
    expect(notifications.status).toBe(200);
    // The two messages, then bob's invite (read when he joined).
    expect((notifications.body["notifications"] as { read: boolean }[]).map((n) => n.read)).toEqual([true, true, true]);
  });

  it("sets and lists pushers", async () => {
    const { client: alice } = await registeredClient("pushere2e");
    const token = alice.getAccessToken()!;
    const body = {
      app_id: "org.example.e2e",
      pushkey: "e2e-key",
      kind: "http",
      app_display_name: "E2E",
      device_display_name: "Runner",
      lang: "en",
      data: { url: "https://push.example.org/_matrix/push/v1/notify", format: "event_id_only" },
    };
    expect((await api("POST", "/_matrix/client/v3/pushers/set", { token, body })).status).toBe(200);
    const listed = await api("GET", "/_matrix/client/v3/pushers", { token });
    expect(listed.body).toEqual({ pushers: [body] });
    const bad = await api("POST", "/_matrix/client/v3/pushers/set", { token, body: { ...body, data: {} } });
    expect(bad.status).toBe(400);
  });

  it("shares presence with room members, live through matrix-js-sdk", async () => {
    const { client: alice } = await registeredClient("prese2e");
    const { client: bob } = await registeredClient("prese2eb");
    const { room_id: roomId } = await alice.createRoom({});
    await alice.invite(roomId, bob.getUserId()!);
    await bob.joinRoom(roomId);
    await startSyncing(bob);

    const seen = new Promise<void>((resolve) => {
      const check = () => {
        const user = bob.getUser(alice.getUserId()!);
        if (user?.presence !== "unavailable" || user.presenceStatusMsg !== "in a meeting") return;
        bob.off(ClientEvent.Sync, check);
        resolve();
      };
      bob.on(ClientEvent.Sync, check);
    });
    const set = await api("PUT", `/_matrix/client/v3/presence/${r(alice.getUserId()!)}/status`, {
      token: alice.getAccessToken()!,
      body: { presence: "unavailable", status_msg: "in a meeting" },
    });
    expect(set.status).toBe(200);
    await seen;
    const got = await api("GET", `/_matrix/client/v3/presence/${r(alice.getUserId()!)}/status`, { token: bob.getAccessToken()! });
    expect(got.body).toMatchObject({ presence: "unavailable", status_msg: "in a meeting" });
    expect(bob.getRoom(roomId)).not.toBeNull();
  });

  it("delivers a mention to the user's push gateway", async () => {
    const received: { path: string; body: { notification: Record<string, unknown> } }[] = [];
    let onRequest: () => void = () => undefined;
    const gateway = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString()));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(text) as { notification: Record<string, unknown> } });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ rejected: [] }));
        onRequest();
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = gateway.address() as AddressInfo;
      const { client: alice } = await registeredClient("gwa");
      const { client: bob } = await registeredClient("gwb");
      const { room_id: roomId } = await alice.createRoom({ name: "Gateway e2e" });
      await alice.invite(roomId, bob.getUserId()!);
      await bob.joinRoom(roomId);
      const pusher = {
        app_id: "org.example.e2e.gateway",
        pushkey: "gw-key",
        kind: "http",
        app_display_name: "E2E",
        device_display_name: "Runner",
        lang: "en",
        data: { url: `http://127.0.0.1:${port}/_matrix/push/v1/notify`, extra: "kept" },
      };
      expect((await api("POST", "/_matrix/client/v3/pushers/set", { token: bob.getAccessToken()!, body: pusher })).status).toBe(200);

      const delivered = new Promise<void>((resolve) => (onRequest = resolve));
      const { event_id: eventId } = await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: "bob?", "m.mentions": { user_ids: [bob.getUserId()!] } });
      await delivered;
      expect(received).toHaveLength(1);
      expect(received[0]!.path).toBe("/_matrix/push/v1/notify");
      expect(received[0]!.body.notification).toMatchObject({
        event_id: eventId,
        room_id: roomId,
        type: "m.room.message",
        sender: alice.getUserId(),
        room_name: "Gateway e2e",
        prio: "high",
        counts: { unread: 1 },
        devices: [{ app_id: "org.example.e2e.gateway", pushkey: "gw-key", data: { extra: "kept" }, tweaks: { sound: "default", highlight: true } }],
      });
    } finally {
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});
