import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import {
  PATH,
  type RoomResult,
  RumaResponse,
  encryptionRequest,
  notificationRequest,
  roomListRequest,
  roomSubscription,
} from "../sync/element-x-sliding-sync";
import { createRoom, joinUser, r, sendMessage, sendState } from "./room-helpers";

/**
 * One request as ruma sends it (`pos`, `timeout` in ms and `set_presence` in the query string); its response must
 * parse as ruma parses it, or Element X would not sync at all.
 */
async function sync(user: TestUser, body: Record<string, unknown>, query: { pos?: string; timeout?: number } = {}): Promise<RumaResponse> {
  const qs = new URLSearchParams();
  if (query.pos !== undefined) qs.set("pos", query.pos);
  if (query.timeout !== undefined) qs.set("timeout", String(query.timeout));
  const res = await call("POST", `${PATH}${qs.size > 0 ? `?${qs}` : ""}`, { token: user.accessToken, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const parsed = RumaResponse.safeParse(res.body);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  // The body itself, not the parse: the schema names only what ruma types, and events carry more.
  return res.body as RumaResponse;
}

const roomOf = (response: RumaResponse, roomId: string): RoomResult => {
  const room = response.rooms?.[roomId];
  expect(room, `${roomId} in ${JSON.stringify(Object.keys(response.rooms ?? {}))}`).toBeDefined();
  return room!;
};
const stateOf = (room: RoomResult, type: string) => (room.required_state ?? []).filter((e) => e.type === type);
/** What matrix-sdk-base reads for the user's membership: the last own m.room.member of `required_state` (timeline state is ignored). */
const ownMembership = (room: RoomResult, userId: string) => stateOf(room, "m.room.member").filter((e) => e.state_key === userId).at(-1)?.content["membership"];

describe("simplified sliding sync as Element X (matrix-rust-sdk) uses it", () => {
  it("is discovered the way matrix-rust-sdk discovers it", async () => {
    const versions = await call("GET", "/_matrix/client/versions");
    // crates/matrix-sdk/src/sliding_sync/client.rs: `VersionBuilder::DiscoverNative` needs FeatureFlag::Msc4186.
    expect((versions.body["unstable_features"] as Record<string, unknown>)["org.matrix.simplified_msc3575"]).toBe(true);
    const wellKnown = await call("GET", "/.well-known/matrix/client");
    expect(typeof (wellKnown.body["m.homeserver"] as { base_url?: unknown }).base_url).toBe("string");
  });

  it("answers the room list's first request and its growing requests in the shape ruma reads", async () => {
    const alice = await registerUser("exrl");
    const bob = await registerUser("exrl");
    const carol = await registerUser("exrl");
    const named = await createRoom(alice, { name: "encrypted", initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] });
    await joinUser(alice, bob, named);
    expect((await sendMessage(bob, named, "hello")).status).toBe(200);
    const dm = await createRoom(alice, { is_direct: true });
    await joinUser(alice, carol, dm);
    const invite = await createRoom(carol, { name: "come" });
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(invite)}/invite`, { token: carol.accessToken, body: { user_id: alice.userId } })).status).toBe(200);

    // State::SettingUp: Selective 0..=19 with no long-poll.
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(first.lists).toEqual({ all_rooms: { count: 3 } });
    expect(Object.keys(first.rooms!).sort()).toEqual([named, dm, invite].sort());

    const encrypted = roomOf(first, named);
    expect(encrypted).toMatchObject({ initial: true, name: "encrypted", joined_count: 2, invited_count: 0, limited: true, notification_count: 1 });
    expect(encrypted.timeline!.map((e) => e.content["body"])).toEqual(["hello"]);
    expect(typeof encrypted.prev_batch).toBe("string");
    expect(ownMembership(encrypted, alice.userId)).toBe("join");
    expect(stateOf(encrypted, "m.room.encryption")).toHaveLength(1);
    expect(stateOf(encrypted, "m.room.create")).toHaveLength(1);
    // $LAZY: the sender of the one timeline event.
    expect(stateOf(encrypted, "m.room.member").map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(encrypted.bump_stamp).toBeGreaterThan(0);

    const direct = roomOf(first, dm);
    expect(direct.name).toBeUndefined();
    expect(direct.heroes!.map((h) => h.user_id)).toEqual([carol.userId]);

    // matrix-sdk-base tells an invite from a join by `invite_state` and its own member event there.
    const invited = roomOf(first, invite);
    expect(invited.invite_state!.find((e) => e.type === "m.room.member" && e.state_key === alice.userId)?.content["membership"]).toBe("invite");

    // Push rules come with the first account data: the client evaluates notifications with them.
    const global = first.extensions!.account_data!.global!;
    expect(global.find((e) => e.type === "m.push_rules")?.content).toHaveProperty("global.override");
    expect(first.extensions!.receipts).toBeDefined();
    expect(first.extensions!.typing).toBeDefined();

    // State::Running: Growing, 0..=99; nothing is resent.
    const second = await sync(alice, roomListRequest([[0, 99]]), { pos: first.pos, timeout: 0 });
    expect(second.lists).toEqual({ all_rooms: { count: 3 } });
    expect(second.rooms ?? {}).toEqual({});
    expect((second.extensions?.account_data?.global ?? []).map((e) => e.type)).not.toContain("m.push_rules");

    // Fully loaded: it long-polls, and a new message wakes it with just that room.
    const polling = sync(alice, roomListRequest([[0, 99]]), { pos: second.pos, timeout: 10_000 });
    expect((await sendMessage(carol, dm, "ping")).status).toBe(200);
    const third = await polling;
    expect(Object.keys(third.rooms!)).toEqual([dm]);
    const pinged = roomOf(third, dm);
    expect(pinged.initial).toBeUndefined();
    expect(pinged.timeline!.map((e) => e.content["body"])).toEqual(["ping"]);
    expect(pinged.num_live).toBe(1);
    expect(pinged.bump_stamp).toBeGreaterThan(direct.bump_stamp!);
    expect(stateOf(pinged, "m.room.member").map((e) => e.state_key)).toEqual([carol.userId]);
  });

  it("sends an opened room (a room subscription) again with 20 events and the pinned events", async () => {
    const alice = await registerUser("exsub");
    const roomId = await createRoom(alice, { name: "busy" });
    for (let i = 0; i < 25; i++) expect((await sendMessage(alice, roomId, `m${i}`)).status).toBe(200);
    expect((await sendState(alice, roomId, "m.room.pinned_events", "", { pinned: [] })).status).toBe(200);
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(roomOf(first, roomId).timeline).toHaveLength(1);
    expect(stateOf(roomOf(first, roomId), "m.room.pinned_events")).toEqual([]);

    const opened = await sync(alice, { ...roomListRequest([[0, 19]]), room_subscriptions: { [roomId]: roomSubscription() } }, { pos: first.pos, timeout: 0 });
    const room = roomOf(opened, roomId);
    expect(room.initial).toBe(true);
    expect(room.timeline!.map((e) => e.type)).toEqual([...Array(19).fill("m.room.message"), "m.room.pinned_events"]);
    expect(room.limited).toBe(true);
    expect(stateOf(room, "m.room.pinned_events")).toHaveLength(1);
    expect(ownMembership(room, alice.userId)).toBe("join");
  });

  it("puts the member event of someone who joins in required_state, which is all matrix-rust-sdk reads state from", async () => {
    const alice = await registerUser("exjoin");
    const bob = await registerUser("exjoin");
    const roomId = await createRoom(alice, { name: "door" });
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(stateOf(roomOf(first, roomId), "m.room.member").map((e) => e.state_key)).toEqual([alice.userId]);

    await call("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}/displayname`, { token: bob.accessToken, body: { displayname: "Bob" } });
    await joinUser(alice, bob, roomId);
    // Timeline limit 1: the join is the one timeline event; the sdk ignores state in the timeline (State::After).
    const second = await sync(alice, roomListRequest([[0, 19]]), { pos: first.pos, timeout: 0 });
    const room = roomOf(second, roomId);
    expect(room.timeline!.map((e) => [e.type, e.state_key])).toEqual([["m.room.member", bob.userId]]);
    const bobs = stateOf(room, "m.room.member").filter((e) => e.state_key === bob.userId);
    expect(bobs.map((e) => e.content)).toEqual([expect.objectContaining({ membership: "join", displayname: "Bob" })]);
    expect(room.joined_count).toBe(2);

    // Without a gap, every membership change is sent too, in the timeline or not.
    const carol = await registerUser("exjoin");
    await joinUser(alice, carol, roomId);
    expect((await sendMessage(alice, roomId, "welcome")).status).toBe(200);
    const wide = { ...roomListRequest([[0, 19]]), room_subscriptions: { [roomId]: roomSubscription() } };
    const third = await sync(alice, wide, { pos: second.pos, timeout: 0 });
    const members = stateOf(roomOf(third, roomId), "m.room.member").map((e) => [e.state_key, e.content["membership"]]);
    expect(members).toContainEqual([carol.userId, "join"]);
  });

  it("tells the client it is no longer invited when it rejects an invite or the invite is withdrawn", async () => {
    const alice = await registerUser("exrej");
    const bob = await registerUser("exrej");
    const rejected = await createRoom(bob, { name: "rejected" });
    const withdrawn = await createRoom(bob, { name: "withdrawn" });
    for (const roomId of [rejected, withdrawn]) {
      expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);
    }
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(roomOf(first, rejected).invite_state).toBeDefined();

    expect((await call("POST", `/_matrix/client/v3/rooms/${r(rejected)}/leave`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(withdrawn)}/kick`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);
    const second = await sync(alice, roomListRequest([[0, 19]]), { pos: first.pos, timeout: 0 });
    // Without invite_state, matrix-sdk-base marks the room joined unless required_state says otherwise.
    for (const roomId of [rejected, withdrawn]) {
      const room = roomOf(second, roomId);
      expect(room.invite_state).toBeUndefined();
      expect(ownMembership(room, alice.userId)).toBe("leave");
      // Nothing else of a room alice never joined.
      expect(stateOf(room, "m.room.name")).toEqual([]);
    }
  });

  it("wakes the room list's long-poll for an invite, and shows a knock and its refusal as matrix-sdk-base reads them", async () => {
    const alice = await registerUser("exknock");
    const bob = await registerUser("exknock");
    const invite = await createRoom(bob, { name: "invite" });
    const knockable = await createRoom(bob, { name: "knock knock", initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] });
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(first.lists).toEqual({ all_rooms: { count: 0 } });

    const polling = sync(alice, roomListRequest([[0, 19]]), { pos: first.pos, timeout: 10_000 });
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(invite)}/invite`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);
    const invited = await polling;
    expect(Object.keys(invited.rooms!)).toEqual([invite]);

    expect((await call("POST", `/_matrix/client/v3/knock/${r(knockable)}`, { token: alice.accessToken, body: {} })).status).toBe(200);
    const knocked = await sync(alice, roomListRequest([[0, 19]]), { pos: invited.pos, timeout: 0 });
    const knockState = roomOf(knocked, knockable).invite_state!;
    expect(knockState.find((e) => e.type === "m.room.member" && e.state_key === alice.userId)?.content["membership"]).toBe("knock");

    expect((await call("POST", `/_matrix/client/v3/rooms/${r(knockable)}/kick`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);
    const refused = await sync(alice, roomListRequest([[0, 19]]), { pos: knocked.pos, timeout: 0 });
    expect(roomOf(refused, knockable).invite_state).toBeUndefined();
    expect(ownMembership(roomOf(refused, knockable), alice.userId)).toBe("leave");
  });

  it("runs the encryption loop: to-device with its since token and e2ee, long-polling until a message arrives", async () => {
    const alice = await registerUser("exenc");
    const bob = await registerUser("exenc");
    const first = await sync(alice, encryptionRequest(undefined));
    const toDevice = first.extensions!.to_device!;
    expect(toDevice.events ?? []).toEqual([]);
    expect(first.extensions!.e2ee!.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(first.extensions!.e2ee!.device_unused_fallback_key_types).toEqual([]);
    expect(first.rooms ?? {}).toEqual({});

    // The sdk's default poll timeout is 30 s; the message ends the wait.
    const polling = sync(alice, encryptionRequest(toDevice.next_batch), { pos: first.pos, timeout: 30_000 });
    const sent = await call("PUT", "/_matrix/client/v3/sendToDevice/m.room_key_request/ex1", {
      token: bob.accessToken,
      body: { messages: { [alice.userId]: { [alice.deviceId]: { action: "request_cancellation", request_id: "1", requesting_device_id: bob.deviceId } } } },
    });
    expect(sent.status).toBe(200);
    const second = await polling;
    const delivered = second.extensions!.to_device!;
    expect(delivered.events!.map((e) => [e.type, e.sender])).toEqual([["m.room_key_request", bob.userId]]);
    // Acknowledged by the next since: never delivered twice.
    const third = await sync(alice, encryptionRequest(delivered.next_batch), { pos: second.pos, timeout: 0 });
    expect(third.extensions!.to_device!.events ?? []).toEqual([]);
  });

  it("answers the notification client's request with the invites and the notified event", async () => {
    const alice = await registerUser("exnot");
    const bob = await registerUser("exnot");
    const roomId = await createRoom(bob, { name: "chat" });
    await joinUser(bob, alice, roomId);
    const eventId = (await sendMessage(bob, roomId, "wake up")).body["event_id"] as string;
    const invite = await createRoom(bob, { name: "party" });
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(invite)}/invite`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);

    const res = await sync(alice, notificationRequest([roomId]));
    expect(res.lists).toEqual({ invites: { count: 1 } });
    expect(roomOf(res, invite).invite_state).toBeDefined();
    const room = roomOf(res, roomId);
    expect(room.timeline!.map((e) => e.event_id)).toContain(eventId);
    expect(stateOf(room, "m.room.power_levels")).toHaveLength(1);
    expect(ownMembership(room, alice.userId)).toBe("join");
    // It then polls with a 1 s timeout on the same connection.
    const next = await sync(alice, notificationRequest([roomId]), { pos: res.pos, timeout: 1000 });
    expect(next.rooms ?? {}).toEqual({});
  });

  it("resumes the room list's saved pos after a night away with only what changed (share_pos)", async () => {
    const alice = await registerUser("exres");
    const quiet = await createRoom(alice, { name: "quiet" });
    const busy = await createRoom(alice, { name: "busy" });
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(Object.keys(first.rooms!).sort()).toEqual([quiet, busy].sort());
    const night = Date.now() - 12 * 60 * 60_000;
    await env.DB.prepare("UPDATE sliding_sync_connections SET last_used_ts = ? WHERE user_id = ?").bind(night, alice.userId).run();
    expect((await sendMessage(alice, busy, "morning")).status).toBe(200);
    // The app starts again: State::Init sends the saved pos with Selective 0..=19 and no long-poll.
    const resumed = await sync(alice, roomListRequest([[0, 19]]), { pos: first.pos, timeout: 0 });
    expect(Object.keys(resumed.rooms!)).toEqual([busy]);
    expect(roomOf(resumed, busy).initial).toBeUndefined();
  });

  it("ignores what it does not implement: other extensions, list and subscription fields, a large to-device limit", async () => {
    const alice = await registerUser("exunk");
    const roomId = await createRoom(alice, { name: "plain" });
    const request = roomListRequest([[0, 19]]);
    const body = {
      ...request,
      txn_id: "t1",
      lists: { all_rooms: { ...request.lists.all_rooms, filters: { not_room_types: ["m.space"], future_filter: true }, bump_event_types: ["m.room.message"] } },
      room_subscriptions: { [roomId]: { ...roomSubscription(), include_heroes: true } },
      extensions: {
        ...request.extensions,
        ...encryptionRequest(undefined).extensions,
        to_device: { enabled: true, limit: 5000 },
        "org.matrix.msc4354.sticky_events": { enabled: true },
        "org.example.unknown": { enabled: true, anything: [1, 2] },
      },
    };
    const res = await sync(alice, body, { timeout: 0 });
    expect(res.txn_id).toBe("t1");
    expect(roomOf(res, roomId).initial).toBe(true);
    expect(res.extensions!.to_device!.next_batch).toBeTypeOf("string");
  });

  it("answers M_UNKNOWN_POS for a pos it cannot continue, and starts over when the sdk drops it (expire_session)", async () => {
    const alice = await registerUser("expos");
    const roomId = await createRoom(alice, { name: "again" });
    const first = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    const res = await call("POST", `${PATH}?pos=${encodeURIComponent(`${first.pos}9`)}&timeout=0`, { token: alice.accessToken, body: roomListRequest([[0, 19]]) });
    expectError(res, 400, "M_UNKNOWN_POS");
    // expire_session: no pos, no room subscriptions, the list back to Selective.
    const restarted = await sync(alice, roomListRequest([[0, 19]]), { timeout: 0 });
    expect(roomOf(restarted, roomId).initial).toBe(true);
  });
});
