import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { unreadCounts } from "../../src/services/unread-counts";
import { type TestUser, call, registerUser } from "../helpers";
import { createRoom, joinUser, r } from "./room-helpers";

interface Counts {
  notification_count?: number;
  highlight_count?: number;
}
interface JoinedRoomJson {
  unread_notifications: Counts;
  unread_thread_notifications?: Record<string, Counts>;
}

const THREADED = encodeURIComponent(JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }));

async function send(user: TestUser, roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
  const res = await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/${type}/${crypto.randomUUID()}`, { token: user.accessToken, body: content });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["event_id"] as string;
}

const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: "m.text", body, ...extra });

async function roomInSync(user: TestUser, roomId: string, query = ""): Promise<JoinedRoomJson> {
  const res = await call<{ rooms: { join: Record<string, JoinedRoomJson> } }>("GET", `/_matrix/client/v3/sync?${query}`, { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const room = res.body.rooms.join[roomId];
  expect(room, `room missing from sync: ${JSON.stringify(res.body)}`).toBeDefined();
  return room!;
}

function receipt(user: TestUser, roomId: string, eventId: string, body: Record<string, unknown> = {}, type = "m.read") {
  return call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/receipt/${type}/${encodeURIComponent(eventId)}`, { token: user.accessToken, body });
}

/** A room with alice (the creator) and bob, and `others` more members. */
async function roomWith(others = 0): Promise<{ alice: TestUser; bob: TestUser; roomId: string }> {
  const alice = await registerUser("ucount");
  const bob = await registerUser("ucount");
  const roomId = await createRoom(alice);
  await joinUser(alice, bob, roomId);
  for (let i = 0; i < others; i++) await joinUser(alice, await registerUser("ucount"), roomId);
  return { alice, bob, roomId };
}

describe("unread notification counts in /sync", () => {
  it("count messages and mentions, not edits, notices, reactions or your own events, and reset on a receipt", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });

    const first = await send(alice, roomId, text("hello"));
    const mention = await send(alice, roomId, text("bob!", { "m.mentions": { user_ids: [bob.userId] } }));
    await send(alice, roomId, text("* bob!", { "m.new_content": text("bob!!"), "m.relates_to": { rel_type: "m.replace", event_id: mention } }));
    await send(alice, roomId, { msgtype: "m.notice", body: "a bot says hi" });
    await send(alice, roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: first, key: "👍" } }, "m.reaction");
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    // The sender's own events never count for them.
    expect((await roomInSync(alice, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });

    const before = await call<{ next_batch: string }>("GET", "/_matrix/client/v3/sync", { token: bob.accessToken });
    expect((await receipt(bob, roomId, first)).status).toBe(200);
    // The receipt alone brings the room back into an incremental sync, with the new counts.
    const after = await roomInSync(bob, roomId, `since=${before.body.next_batch}`);
    expect(after.unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });

    expect((await receipt(bob, roomId, mention, {}, "m.read.private")).status).toBe(200);
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("wakes a waiting /sync when the user's receipt resets the counts", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    const message = await send(alice, roomId, text("hello"));
    const initial = await call<{ next_batch: string }>("GET", "/_matrix/client/v3/sync", { token: bob.accessToken });
    const started = Date.now();
    const waiting = roomInSync(bob, roomId, `since=${initial.body.next_batch}&timeout=20000`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await receipt(bob, roomId, message)).status).toBe(200);
    expect((await waiting).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("takes back a redacted event's notification", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    await send(alice, roomId, text("stays"));
    const oops = await send(alice, roomId, text("oops", { "m.mentions": { user_ids: [bob.userId] } }));
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    const redact = await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/redact/${encodeURIComponent(oops)}/${crypto.randomUUID()}`, {
      token: alice.accessToken,
      body: {},
    });
    expect(redact.status, JSON.stringify(redact.body)).toBe(200);
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("counts a room mention only from someone with the power to make one", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    await send(bob, roomId, text("@room hi", { "m.mentions": { room: true } }));
    expect((await roomInSync(alice, roomId)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    await send(alice, roomId, text("@room hi", { "m.mentions": { room: true } }));
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });
  });

  it("treats sending a message as having read what came before it", async () => {
    const { alice, bob, roomId } = await roomWith();
    await send(alice, roomId, text("one"));
    await send(alice, roomId, text("two"));
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    await send(bob, roomId, text("reply"));
    await send(alice, roomId, text("three"));
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("splits counts per thread when the filter asks, and threaded receipts clear only their thread", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    const root = await send(alice, roomId, text("root"));
    const inThread = (body: string, extra: Record<string, unknown> = {}) =>
      text(body, { "m.relates_to": { rel_type: "m.thread", event_id: root }, ...extra });
    await send(alice, roomId, inThread("reply 1"));
    const reply = await send(alice, roomId, inThread("reply 2", { "m.mentions": { user_ids: [bob.userId] } }));

    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 3, highlight_count: 1 });
    expect((await roomInSync(bob, roomId)).unread_thread_notifications).toBeUndefined();
    const threaded = await roomInSync(bob, roomId, `filter=${THREADED}`);
    expect(threaded.unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(threaded.unread_thread_notifications).toEqual({ [root]: { notification_count: 2, highlight_count: 1 } });

    expect((await receipt(bob, roomId, reply, { thread_id: root })).status).toBe(200);
    const cleared = await roomInSync(bob, roomId, `filter=${THREADED}`);
    expect(cleared.unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(cleared.unread_thread_notifications).toBeUndefined();

    // unreadCounts, as sliding sync reads it.
    const counts = await unreadCounts(env.DB, bob.userId, [roomId, "!unknown:localhost"]);
    expect(counts[roomId]).toEqual({ notification_count: 1, highlight_count: 0, main: { notification_count: 1, highlight_count: 0 }, threads: {} });
    expect(counts["!unknown:localhost"]).toMatchObject({ notification_count: 0, highlight_count: 0 });

    // An unthreaded receipt reads everything up to it, threads included.
    await send(alice, roomId, inThread("reply 3"));
    const last = await send(alice, roomId, text("main again"));
    expect((await receipt(bob, roomId, last)).status).toBe(200);
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("uses the user's own push rules and ignore list", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    await send(alice, roomId, text("before the rule"));
    const rule = await call("PUT", `/_matrix/client/v3/pushrules/global/room/${encodeURIComponent(roomId)}`, { token: bob.accessToken, body: { actions: [] } });
    expect(rule.status).toBe(200);
    await send(alice, roomId, text("muted"));
    expect((await roomInSync(bob, roomId)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });

    const { alice: carol, bob: dave, roomId: other } = await roomWith(1);
    await send(carol, other, text("before the ignore"));
    const ignore = await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(dave.userId)}/account_data/m.ignored_user_list`, {
      token: dave.accessToken,
      body: { ignored_users: { [carol.userId]: {} } },
    });
    expect(ignore.status).toBe(200);
    await send(carol, other, text("ignored", { "m.mentions": { user_ids: [dave.userId] } }));
    expect((await roomInSync(dave, other)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("notifies an invitee of their invite, and their join marks it read", async () => {
    const alice = await registerUser("ucount");
    const carol = await registerUser("ucount");
    const roomId = await createRoom(alice);
    const invite = await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: alice.accessToken, body: { user_id: carol.userId } });
    expect(invite.status).toBe(200);
    type Listed = { notifications: { event: { type: string; state_key?: string }; read: boolean; room_id: string }[] };
    const before = await call<Listed>("GET", "/_matrix/client/v3/notifications", { token: carol.accessToken });
    expect(before.body.notifications).toMatchObject([{ room_id: roomId, read: false, event: { type: "m.room.member", state_key: carol.userId } }]);
    // Nobody else is notified of the invite.
    expect((await call<Listed>("GET", "/_matrix/client/v3/notifications", { token: alice.accessToken })).body.notifications).toEqual([]);

    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/join`, { token: carol.accessToken })).status).toBe(200);
    expect((await roomInSync(carol, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    const after = await call<Listed>("GET", "/_matrix/client/v3/notifications", { token: carol.accessToken });
    expect(after.body.notifications.map((n) => n.read)).toEqual([true]);
  });

  it("lists notifications, newest first, with highlights alone on request", async () => {
    const { alice, bob, roomId } = await roomWith(1);
    const plain = await send(alice, roomId, text("plain"));
    const mention = await send(alice, roomId, text("bob", { "m.mentions": { user_ids: [bob.userId] } }));
    const list = await call<{ notifications: { event: { event_id: string }; read: boolean; room_id: string; actions: unknown[] }[]; next_token?: string }>(
      "GET",
      "/_matrix/client/v3/notifications",
      { token: bob.accessToken },
    );
    expect(list.status).toBe(200);
    // Then bob's invite to the room, read when he joined.
    expect(list.body.notifications.map((n) => n.event.event_id)).toEqual([mention, plain, expect.any(String)]);
    expect(list.body.notifications.map((n) => n.read)).toEqual([false, false, true]);
    expect(list.body.notifications[0]).toMatchObject({ room_id: roomId, read: false, actions: ["notify", { set_tweak: "sound", value: "default" }, { set_tweak: "highlight" }] });

    const highlights = await call<{ notifications: { event: { event_id: string } }[] }>("GET", "/_matrix/client/v3/notifications?only=highlight", { token: bob.accessToken });
    expect(highlights.body.notifications.map((n) => n.event.event_id)).toEqual([mention]);

    const page = await call<{ notifications: { event: { event_id: string } }[]; next_token?: string }>("GET", "/_matrix/client/v3/notifications?limit=1", {
      token: bob.accessToken,
    });
    expect(page.body.notifications.map((n) => n.event.event_id)).toEqual([mention]);
    const rest = await call<{ notifications: { event: { event_id: string }; read: boolean }[] }>(
      "GET",
      `/_matrix/client/v3/notifications?limit=1&from=${page.body.next_token!}`,
      { token: bob.accessToken },
    );
    expect(rest.body.notifications.map((n) => n.event.event_id)).toEqual([plain]);

    expect((await receipt(bob, roomId, plain)).status).toBe(200);
    const afterRead = await call<{ notifications: { read: boolean }[] }>("GET", "/_matrix/client/v3/notifications", { token: bob.accessToken });
    expect(afterRead.body.notifications.map((n) => n.read)).toEqual([false, true, true]);
    expect((await call("GET", "/_matrix/client/v3/notifications?from=nonsense", { token: bob.accessToken })).status).toBe(400);
  });
});
