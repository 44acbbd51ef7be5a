import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { type ClientEventJson, createRoom, joinUser, r, sendMessage, sendState } from "./room-helpers";

const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

interface RoomJson {
  membership: string;
  initial?: boolean;
  lists?: string[];
  name?: string | null;
  avatar?: string | null;
  heroes?: { user_id: string; displayname?: string }[];
  is_dm?: boolean;
  bump_stamp: number;
  required_state?: ClientEventJson[];
  timeline?: ClientEventJson[];
  limited?: boolean;
  prev_batch?: string;
  num_live?: number;
  joined_count?: number;
  invited_count?: number;
  notification_count?: number;
  highlight_count?: number;
  expanded_timeline?: boolean;
  invite_state?: { type: string; state_key: string }[];
  stripped_state?: { type: string; state_key: string }[];
}
interface SlidingJson {
  pos: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, RoomJson>;
  extensions: Record<string, Record<string, unknown>>;
}

function slide(user: TestUser, body: Record<string, unknown>, query: Record<string, string> = {}) {
  const qs = new URLSearchParams(query).toString();
  return call("POST", `${PATH}${qs ? `?${qs}` : ""}`, { token: user.accessToken, body });
}

async function slideOk(user: TestUser, body: Record<string, unknown>, query: Record<string, string> = {}): Promise<SlidingJson> {
  const res = await slide(user, body, query);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as SlidingJson;
}

const list = (range: [number, number], extra: Record<string, unknown> = {}) => ({
  ranges: [range],
  timeline_limit: 1,
  required_state: [["m.room.create", ""]],
  ...extra,
});
const bodies = (events: ClientEventJson[] | undefined) => (events ?? []).filter((e) => e.type === "m.room.message").map((e) => e.content["body"]);
const stateKeys = (room: RoomJson, type: string) => (room.required_state ?? []).filter((e) => e.type === type).map((e) => e.state_key);

/** A user in `count` rooms, touched in order, so the last one created is the most recent. */
async function userWithRooms(count: number): Promise<{ user: TestUser; rooms: string[] }> {
  const user = await registerUser("ss");
  const rooms: string[] = [];
  for (let i = 0; i < count; i++) rooms.push(await createRoom(user, { name: `room ${i}` }));
  return { user, rooms };
}

describe("simplified sliding sync (MSC4186)", () => {
  it("is advertised in /versions", async () => {
    const res = await call("GET", "/_matrix/client/versions");
    expect((res.body["unstable_features"] as Record<string, boolean>)["org.matrix.simplified_msc3575"]).toBe(true);
  });

  it("orders the list by recent activity, cuts ranges, and moves a room up when something happens in it", async () => {
    const { user, rooms } = await userWithRooms(5);
    const first = await slideOk(user, { lists: { all: list([0, 2]) } });
    expect(first.lists["all"]!.count).toBe(5);
    expect(Object.keys(first.rooms).sort()).toEqual([rooms[4]!, rooms[3]!, rooms[2]!].sort());
    const room = first.rooms[rooms[4]!]!;
    expect(room).toMatchObject({ membership: "join", initial: true, lists: ["all"], name: "room 4", joined_count: 1, invited_count: 0 });
    expect(room.timeline).toHaveLength(1);
    expect(room.limited).toBe(true);
    expect(stateKeys(room, "m.room.create")).toEqual([""]);
    expect(room.required_state).toHaveLength(1);
    expect(room.bump_stamp).toBeGreaterThan(first.rooms[rooms[3]!]!.bump_stamp);

    // Activity in the oldest room brings it to the top: an incremental sync sends only that room.
    expect((await sendMessage(user, rooms[0]!, "bump")).status).toBe(200);
    const second = await slideOk(user, { lists: { all: list([0, 2]) } }, { pos: first.pos });
    expect(Object.keys(second.rooms)).toEqual([rooms[0]!]);
    expect(second.rooms[rooms[0]!]!.initial).toBe(true);
    expect(bodies(second.rooms[rooms[0]!]!.timeline)).toEqual(["bump"]);

    // Growing the range sends only the room not sent yet (rooms[2] went out in the first response).
    const third = await slideOk(user, { lists: { all: list([0, 4]) } }, { pos: second.pos });
    expect(Object.keys(third.rooms)).toEqual([rooms[1]!]);
  });

  it("sends only changed rooms incrementally, with only the new events, num_live and the name change", async () => {
    const { user, rooms } = await userWithRooms(3);
    const lists = { all: list([0, 9], { timeline_limit: 5, required_state: [["m.room.name", ""]] }) };
    const first = await slideOk(user, { lists });
    expect(Object.keys(first.rooms)).toHaveLength(3);
    expect((await sendMessage(user, rooms[1]!, "one")).status).toBe(200);
    expect((await sendState(user, rooms[1]!, "m.room.name", "", { name: "renamed" })).status).toBe(200);
    const second = await slideOk(user, { lists }, { pos: first.pos });
    expect(Object.keys(second.rooms)).toEqual([rooms[1]!]);
    const room = second.rooms[rooms[1]!]!;
    expect(room.initial).toBeUndefined();
    expect(room.timeline!.map((e) => e.type)).toEqual(["m.room.message", "m.room.name"]);
    expect(room.num_live).toBe(2);
    expect(room.limited).toBe(false);
    expect(room.name).toBe("renamed");
    expect(stateKeys(room, "m.room.name")).toEqual([""]);

    // Nothing new: a zero timeout answers at once with no rooms.
    const third = await slideOk(user, { lists }, { pos: second.pos, timeout: "0" });
    expect(third.rooms).toEqual({});
    expect(third.lists["all"]!.count).toBe(3);
  });

  it("gives a prev_batch that /messages accepts, and accepts the pos itself there", async () => {
    const { user, rooms } = await userWithRooms(1);
    for (const body of ["a", "b", "c"]) await sendMessage(user, rooms[0]!, body);
    const res = await slideOk(user, { lists: { all: list([0, 0], { timeline_limit: 1 }) } });
    const room = res.rooms[rooms[0]!]!;
    expect(bodies(room.timeline)).toEqual(["c"]);
    const older = await call<{ chunk: ClientEventJson[] }>("GET", `/_matrix/client/v3/rooms/${r(rooms[0]!)}/messages?dir=b&limit=2&from=${room.prev_batch}`, {
      token: user.accessToken,
    });
    expect(older.status).toBe(200);
    expect(bodies(older.body.chunk)).toEqual(["b", "a"]);
    const fromPos = await call("GET", `/_matrix/client/v3/rooms/${r(rooms[0]!)}/messages?dir=b&limit=1&from=${res.pos}`, { token: user.accessToken });
    expect(fromPos.status).toBe(200);
  });

  it("filters on is_dm (from m.direct) and is_invite / is_invited, and sends invites as stripped state", async () => {
    const alice = await registerUser("ssdm");
    const bob = await registerUser("ssdm");
    const dm = await createRoom(alice, { is_direct: true, invite: [bob.userId] });
    const group = await createRoom(alice, { name: "group" });
    const invite = await createRoom(bob, { name: "invite for alice" });
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(invite)}/invite`, { token: bob.accessToken, body: { user_id: alice.userId } })).status).toBe(200);
    const setDirect = await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.direct`, {
      token: alice.accessToken,
      body: { [bob.userId]: [dm] },
    });
    expect(setDirect.status).toBe(200);

    const res = await slideOk(alice, {
      lists: {
        dms: list([0, 9], { filters: { is_dm: true } }),
        rooms: list([0, 9], { filters: { is_dm: false, is_invite: false } }),
        invites: list([0, 9], { filters: { is_invited: true } }),
      },
    });
    expect(res.lists).toEqual({ dms: { count: 1 }, rooms: { count: 1 }, invites: { count: 1 } });
    expect(res.rooms[dm]!).toMatchObject({ lists: ["dms"], is_dm: true });
    expect(res.rooms[group]!).toMatchObject({ lists: ["rooms"], is_dm: false });
    const invited = res.rooms[invite]!;
    expect(invited.membership).toBe("invite");
    expect(invited.timeline).toBeUndefined();
    expect(invited.stripped_state!.some((e) => e.type === "m.room.name")).toBe(true);
    expect(invited.invite_state).toEqual(invited.stripped_state);

    // A room becoming a DM is sent again with the new flag.
    await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.direct`, {
      token: alice.accessToken,
      body: { [bob.userId]: [dm, group] },
    });
    const lists = { all: list([0, 9], { filters: { is_invite: false } }) };
    const before = await slideOk(alice, { lists, conn_id: "dm" });
    await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.direct`, {
      token: alice.accessToken,
      body: { [bob.userId]: [dm] },
    });
    const after = await slideOk(alice, { lists, conn_id: "dm" }, { pos: before.pos });
    expect(Object.keys(after.rooms)).toEqual([group]);
    expect(after.rooms[group]!.is_dm).toBe(false);
  });

  it("sends a room in full when an invite the connection sent is accepted", async () => {
    const alice = await registerUser("ssjoin");
    const bob = await registerUser("ssjoin");
    const roomId = await createRoom(bob, { name: "come in" });
    await sendMessage(bob, roomId, "before the invite");
    await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: bob.accessToken, body: { user_id: alice.userId } });
    const lists = { all: list([0, 9], { timeline_limit: 5, required_state: [["m.room.name", ""]] }) };
    const first = await slideOk(alice, { lists });
    expect(first.rooms[roomId]!.membership).toBe("invite");
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/join`, { token: alice.accessToken })).status).toBe(200);
    const second = await slideOk(alice, { lists }, { pos: first.pos });
    const room = second.rooms[roomId]!;
    expect(room).toMatchObject({ membership: "join", initial: true, name: "come in", joined_count: 2 });
    expect(stateKeys(room, "m.room.name")).toEqual([""]);
    expect(room.timeline!.at(-1)!.type).toBe("m.room.member");
    expect(room.stripped_state).toBeUndefined();
  });

  it("filters on room types (spaces left out) and on space children", async () => {
    const alice = await registerUser("ssspace");
    const space = await createRoom(alice, { name: "space", creation_content: { type: "m.space" } });
    const child = await createRoom(alice, { name: "child" });
    const other = await createRoom(alice, { name: "other" });
    expect((await sendState(alice, space, "m.space.child", child, { via: ["localhost"] })).status).toBe(200);
    const res = await slideOk(alice, {
      lists: {
        rooms: list([0, 9], { filters: { not_room_types: ["m.space"] } }),
        spaces: list([0, 9], { filters: { room_types: ["m.space"] } }),
        inSpace: list([0, 9], { filters: { spaces: [space] } }),
      },
    });
    expect(res.lists).toEqual({ rooms: { count: 2 }, spaces: { count: 1 }, inSpace: { count: 1 } });
    expect(res.rooms[space]!.lists).toEqual(["spaces"]);
    expect(res.rooms[child]!.lists!.sort()).toEqual(["inSpace", "rooms"]);
    expect(res.rooms[other]!.lists).toEqual(["rooms"]);
  });

  it("handles required_state: *, per-type wildcards, $ME and $LAZY, in both request shapes", async () => {
    const alice = await registerUser("ssrs");
    const bob = await registerUser("ssrs");
    const carol = await registerUser("ssrs");
    const roomId = await createRoom(alice, { name: "state room" });
    await joinUser(alice, bob, roomId);
    await joinUser(alice, carol, roomId);
    expect((await sendMessage(bob, roomId, "from bob")).status).toBe(200);

    const everything = await slideOk(alice, { room_subscriptions: { [roomId]: { timeline_limit: 1, required_state: [["*", "*"]] } } });
    const all = everything.rooms[roomId]!;
    expect(stateKeys(all, "m.room.member").sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect(stateKeys(all, "m.room.power_levels")).toEqual([""]);
    expect(all.lists).toBeUndefined();

    const members = await slideOk(alice, { room_subscriptions: { [roomId]: { timeline_limit: 1, required_state: [["m.room.member", "*"]] } } });
    expect(members.rooms[roomId]!.required_state!.every((e) => e.type === "m.room.member")).toBe(true);
    expect(members.rooms[roomId]!.required_state).toHaveLength(3);

    // $LAZY: only the timeline's sender; $ME: the user's own member event.
    const lazy = await slideOk(alice, {
      room_subscriptions: { [roomId]: { timeline_limit: 1, required_state: [["m.room.name", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"]] } },
    });
    const lazyRoom = lazy.rooms[roomId]!;
    expect(stateKeys(lazyRoom, "m.room.member").sort()).toEqual([alice.userId, bob.userId].sort());
    expect(stateKeys(lazyRoom, "m.room.name")).toEqual([""]);

    // The MSC's current shape: everything, members lazily, minus the create event.
    const shaped = await slideOk(alice, {
      room_subscriptions: {
        [roomId]: { timeline_limit: 1, required_state: { include: [{}], exclude: [{ type: "m.room.create", state_key: "" }], lazy_members: true } },
      },
    });
    const shapedRoom = shaped.rooms[roomId]!;
    expect(stateKeys(shapedRoom, "m.room.member")).toEqual([bob.userId]);
    expect(stateKeys(shapedRoom, "m.room.create")).toEqual([]);
    expect(stateKeys(shapedRoom, "m.room.join_rules")).toEqual([""]);
  });

  it("sends the member events of new timeline senders in a delta when members are lazy-loaded", async () => {
    const alice = await registerUser("sslazy");
    const bob = await registerUser("sslazy");
    const carol = await registerUser("sslazy");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    await joinUser(alice, carol, roomId);
    await sendMessage(alice, roomId, "from alice");
    const lists = { all: list([0, 0], { timeline_limit: 1, required_state: [["m.room.member", "$LAZY"]] }) };
    const first = await slideOk(alice, { lists });
    expect(stateKeys(first.rooms[roomId]!, "m.room.member")).toEqual([alice.userId]);
    await sendMessage(carol, roomId, "from carol");
    await sendMessage(bob, roomId, "from bob");
    const second = await slideOk(alice, { lists }, { pos: first.pos });
    const room = second.rooms[roomId]!;
    expect(bodies(room.timeline)).toEqual(["from bob"]);
    expect(room.limited).toBe(true);
    // Only bob sent something in the timeline; carol's message fell in the gap, so her member event is not needed.
    expect(stateKeys(room, "m.room.member")).toEqual([bob.userId]);
  });

  it("sends heroes when the room has no name, and the state changes of a subscribed room", async () => {
    const alice = await registerUser("sshero");
    const bob = await registerUser("sshero");
    await call("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}/displayname`, { token: bob.accessToken, body: { displayname: "Bob" } });
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const sub = { [roomId]: { timeline_limit: 0, required_state: [["m.room.topic", ""]] } };
    const first = await slideOk(alice, { room_subscriptions: sub });
    const room = first.rooms[roomId]!;
    expect(room.name).toBeUndefined();
    expect(room.heroes).toEqual([{ user_id: bob.userId, displayname: "Bob" }]);
    expect(room.joined_count).toBe(2);

    expect((await sendState(alice, roomId, "m.room.topic", "", { topic: "news" })).status).toBe(200);
    const second = await slideOk(alice, {}, { pos: first.pos });
    expect(Object.keys(second.rooms)).toEqual([roomId]);
    expect(second.rooms[roomId]!.required_state!.map((e) => e.content)).toEqual([{ topic: "news" }]);
  });

  it("answers M_UNKNOWN_POS for a pos it did not issue to this device and connection, or an old one", async () => {
    const { user } = await userWithRooms(1);
    const other = await registerUser("ssother");
    const lists = { all: list([0, 0]) };
    const first = await slideOk(user, { lists, conn_id: "main" });
    expectError(await slide(user, { lists, conn_id: "main" }, { pos: "garbage" }), 400, "M_UNKNOWN_POS");
    expectError(await slide(user, { lists, conn_id: "other" }, { pos: first.pos }), 400, "M_UNKNOWN_POS");
    expectError(await slide(other, { lists, conn_id: "main" }, { pos: first.pos }), 400, "M_UNKNOWN_POS");
    const future = first.pos.replace(/^s\d+/, "s999999999");
    expectError(await slide(user, { lists, conn_id: "main" }, { pos: future }), 400, "M_UNKNOWN_POS");

    // The previous pos may be repeated once (a lost response); anything older is refused.
    const second = await slideOk(user, { lists, conn_id: "main" }, { pos: first.pos });
    const third = await slideOk(user, { lists, conn_id: "main" }, { pos: second.pos });
    await slideOk(user, { lists, conn_id: "main" }, { pos: second.pos });
    expectError(await slide(user, { lists, conn_id: "main" }, { pos: first.pos }), 400, "M_UNKNOWN_POS");
    expect(third.pos).not.toBe(second.pos);
  });

  it("expires an idle connection", async () => {
    const { user } = await userWithRooms(1);
    const first = await slideOk(user, { lists: { all: list([0, 0]) }, conn_id: "idle" });
    await env.DB.prepare("UPDATE sliding_sync_connections SET last_used_ts = 0 WHERE user_id = ? AND conn_id = 'idle'").bind(user.userId).run();
    expectError(await slide(user, { lists: { all: list([0, 0]) }, conn_id: "idle" }, { pos: first.pos }), 400, "M_UNKNOWN_POS");
  });

  it("keeps at most ten connections per device, forgetting the least recently used", async () => {
    const { user } = await userWithRooms(1);
    const lists = { all: list([0, 0]) };
    const first = await slideOk(user, { lists, conn_id: "c0" });
    for (let i = 1; i <= 10; i++) await slideOk(user, { lists, conn_id: `c${i}` });
    expectError(await slide(user, { lists, conn_id: "c0" }, { pos: first.pos }), 400, "M_UNKNOWN_POS");
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM sliding_sync_connections WHERE user_id = ?").bind(user.userId).first<number>("n");
    expect(count).toBe(10);
  });

  it("resends what a lost response carried when the client repeats the previous pos", async () => {
    const { user, rooms } = await userWithRooms(2);
    const lists = { all: list([0, 9]) };
    const first = await slideOk(user, { lists });
    await sendMessage(user, rooms[0]!, "maybe lost");
    const lost = await slideOk(user, { lists }, { pos: first.pos });
    expect(Object.keys(lost.rooms)).toEqual([rooms[0]!]);
    const retried = await slideOk(user, { lists }, { pos: first.pos });
    expect(Object.keys(retried.rooms)).toEqual([rooms[0]!]);
    expect(bodies(retried.rooms[rooms[0]!]!.timeline)).toEqual(["maybe lost"]);
    const after = await slideOk(user, { lists }, { pos: retried.pos });
    expect(after.rooms).toEqual({});
  });

  it("records nothing for a cancelled long-poll that wakes after the client sent a newer request", async () => {
    const { user, rooms } = await userWithRooms(1);
    const lists = { all: list([0, 0]) };
    const first = await slideOk(user, { lists });
    const stale = slide(user, { lists }, { pos: first.pos, timeout: "5000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The client gives up on that request and sends another with the same pos.
    const replacement = await slideOk(user, { lists }, { pos: first.pos, timeout: "0" });
    expect(replacement.rooms).toEqual({});
    await sendMessage(user, rooms[0]!, "after the replacement");
    expectError(await stale, 400, "M_UNKNOWN_POS");
    const next = await slideOk(user, { lists }, { pos: replacement.pos });
    expect(bodies(next.rooms[rooms[0]!]!.timeline)).toEqual(["after the replacement"]);
  });

  it("sends an expanded timeline when the timeline limit grows", async () => {
    const { user, rooms } = await userWithRooms(1);
    for (const body of ["a", "b", "c"]) await sendMessage(user, rooms[0]!, body);
    const first = await slideOk(user, { lists: { all: list([0, 0], { timeline_limit: 1 }) } });
    const grown = await slideOk(user, { lists: { all: list([0, 0], { timeline_limit: 3 }) } }, { pos: first.pos });
    expect(grown.rooms[rooms[0]!]!.expanded_timeline).toBe(true);
    expect(bodies(grown.rooms[rooms[0]!]!.timeline)).toEqual(["a", "b", "c"]);
  });

  it("keeps matrix-js-sdk's sticky room subscriptions until unsubscribe_rooms", async () => {
    const { user, rooms } = await userWithRooms(1);
    const first = await slideOk(user, { room_subscriptions: { [rooms[0]!]: { timeline_limit: 1, required_state: [] } } });
    expect(Object.keys(first.rooms)).toEqual([rooms[0]!]);
    await sendMessage(user, rooms[0]!, "still subscribed");
    const second = await slideOk(user, {}, { pos: first.pos });
    expect(bodies(second.rooms[rooms[0]!]!.timeline)).toEqual(["still subscribed"]);
    const third = await slideOk(user, { unsubscribe_rooms: [rooms[0]!] }, { pos: second.pos });
    await sendMessage(user, rooms[0]!, "not subscribed");
    const fourth = await slideOk(user, {}, { pos: third.pos });
    expect(fourth.rooms).toEqual({});
  });

  it("long-polls until something happens in a listed room", async () => {
    const { user, rooms } = await userWithRooms(1);
    const lists = { all: list([0, 0]) };
    const first = await slideOk(user, { lists });
    const started = Date.now();
    const waiting = slideOk(user, { lists }, { pos: first.pos, timeout: "10000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await sendMessage(user, rooms[0]!, "wake up")).status).toBe(200);
    const woken = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(bodies(woken.rooms[rooms[0]!]!.timeline)).toEqual(["wake up"]);
  });

  it("times out with an empty response when nothing happens", async () => {
    const { user } = await userWithRooms(1);
    const lists = { all: list([0, 0]) };
    const first = await slideOk(user, { lists });
    const started = Date.now();
    const res = await slideOk(user, { lists }, { pos: first.pos, timeout: "300" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(res.rooms).toEqual({});
  });

  it("carries account data, typing and receipts in extensions", async () => {
    const alice = await registerUser("ssext");
    const bob = await registerUser("ssext");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const sent = await sendMessage(bob, roomId, "read me");
    const eventId = sent.body["event_id"] as string;
    await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.custom`, { token: alice.accessToken, body: { a: 1 } });
    await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/rooms/${r(roomId)}/account_data/m.room.custom`, {
      token: alice.accessToken,
      body: { b: 2 },
    });
    const extensions = { account_data: { enabled: true }, typing: { enabled: true }, receipts: { enabled: true } };
    const lists = { all: list([0, 0]) };
    const first = await slideOk(alice, { lists, extensions });
    const accountData = first.extensions["account_data"] as { global: { type: string }[]; rooms: Record<string, { type: string; content: unknown }[]> };
    expect(accountData.global.some((e) => e.type === "m.custom")).toBe(true);
    expect(accountData.rooms[roomId]).toEqual([{ type: "m.room.custom", content: { b: 2 } }]);

    expect((await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { token: bob.accessToken, body: { typing: true, timeout: 10000 } })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/receipt/m.read/${r(eventId)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const second = await slideOk(alice, { lists, extensions }, { pos: first.pos, timeout: "5000" });
    const typing = second.extensions["typing"] as { rooms: Record<string, unknown> };
    expect(typing.rooms[roomId]).toEqual({ type: "m.typing", content: { user_ids: [bob.userId] } });
    const receipts = second.extensions["receipts"] as { rooms: Record<string, { type: string; content: Record<string, Record<string, Record<string, unknown>>> }> };
    expect(receipts.rooms[roomId]!.type).toBe("m.receipt");
    expect(Object.keys(receipts.rooms[roomId]!.content[eventId]!["m.read"]!)).toEqual([bob.userId]);
    // Account data already sent is not sent again.
    expect((second.extensions["account_data"] as { global: unknown[] }).global).toEqual([]);
  });

  it("sends unread counts, and sends them again when the user's own receipt resets them", async () => {
    const alice = await registerUser("ssunread");
    const bob = await registerUser("ssunread");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    await sendMessage(bob, roomId, "one");
    const last = (await sendMessage(bob, roomId, "two")).body["event_id"] as string;
    const lists = { all: list([0, 0]) };
    const first = await slideOk(alice, { lists });
    expect(first.rooms[roomId]).toMatchObject({ notification_count: 2, highlight_count: 0 });
    const read = await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/receipt/m.read/${r(last)}`, { token: alice.accessToken, body: {} });
    expect(read.status).toBe(200);
    const second = await slideOk(alice, { lists }, { pos: first.pos, timeout: "5000" });
    expect(second.rooms[roomId]).toMatchObject({ notification_count: 0, highlight_count: 0 });
    expect(second.rooms[roomId]!.timeline).toEqual([]);
  });

  it("carries presence in its extension, and marks the syncing user online unless set_presence says otherwise", async () => {
    const alice = await registerUser("sspres");
    const bob = await registerUser("sspres");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const extensions = { presence: { enabled: true } };
    const first = await slideOk(alice, { extensions }, { set_presence: "offline" });
    const status = await call("PUT", `/_matrix/client/v3/presence/${encodeURIComponent(bob.userId)}/status`, {
      token: bob.accessToken,
      body: { presence: "unavailable", status_msg: "away" },
    });
    expect(status.status).toBe(200);
    const second = await slideOk(alice, { extensions }, { pos: first.pos, timeout: "5000", set_presence: "offline" });
    const events = (second.extensions["presence"] as { events: { sender: string; content: Record<string, unknown> }[] }).events;
    expect(events.find((e) => e.sender === bob.userId)?.content).toMatchObject({ presence: "unavailable", status_msg: "away" });

    // Bob syncing (set_presence omitted) counts as being online.
    await slideOk(bob, {});
    const mine = await call("GET", `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { token: bob.accessToken });
    expect(mine.body["presence"]).toBe("offline");
    const online = await slideOk(alice, {});
    expect(online.pos).toBeTruthy();
    const now = await call("GET", `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { token: bob.accessToken });
    expect(now.body["presence"]).toBe("online");
  });

  it("delivers to-device messages once, acknowledged by the extension's since", async () => {
    const alice = await registerUser("sstd");
    const bob = await registerUser("sstd");
    const send = (txn: string) =>
      call("PUT", `/_matrix/client/v3/sendToDevice/m.test/${txn}`, { token: bob.accessToken, body: { messages: { [alice.userId]: { [alice.deviceId]: { n: txn } } } } });
    expect((await send("t1")).status).toBe(200);
    const first = await slideOk(alice, { extensions: { to_device: { enabled: true }, e2ee: { enabled: true } } });
    const toDevice = first.extensions["to_device"] as { next_batch: string; events: { content: { n: string } }[] };
    expect(toDevice.events.map((e) => e.content.n)).toEqual(["t1"]);
    const e2ee = first.extensions["e2ee"] as Record<string, unknown>;
    expect(e2ee["device_one_time_keys_count"]).toBeTypeOf("object");
    expect(e2ee["device_lists"]).toEqual({ changed: [], left: [] });

    expect((await send("t2")).status).toBe(200);
    const second = await slideOk(alice, { extensions: { to_device: { enabled: true, since: toDevice.next_batch } } }, { pos: first.pos });
    const next = second.extensions["to_device"] as { next_batch: string; events: { content: { n: string } }[] };
    expect(next.events.map((e) => e.content.n)).toEqual(["t2"]);
    const third = await slideOk(alice, { extensions: { to_device: { enabled: true, since: next.next_batch } } }, { pos: second.pos });
    expect((third.extensions["to_device"] as { events: unknown[] }).events).toEqual([]);

    // A batch cut short hands out the rest next time, and a limit of 0 acknowledges nothing it did not deliver.
    for (const txn of ["t3", "t4", "t5"]) expect((await send(txn)).status).toBe(200);
    const third_batch = (third.extensions["to_device"] as { next_batch: string }).next_batch;
    const none = await slideOk(alice, { extensions: { to_device: { enabled: true, since: third_batch, limit: 0 } } }, { pos: third.pos });
    const noneBatch = none.extensions["to_device"] as { next_batch: string; events: unknown[] };
    expect(noneBatch.events).toEqual([]);
    const two = await slideOk(alice, { extensions: { to_device: { enabled: true, since: noneBatch.next_batch, limit: 2 } } }, { pos: none.pos });
    const twoBatch = two.extensions["to_device"] as { next_batch: string; events: { content: { n: string } }[] };
    expect(twoBatch.events.map((e) => e.content.n)).toEqual(["t3", "t4"]);
    const rest = await slideOk(alice, { extensions: { to_device: { enabled: true, since: twoBatch.next_batch } } }, { pos: two.pos });
    expect((rest.extensions["to_device"] as { events: { content: { n: string } }[] }).events.map((e) => e.content.n)).toEqual(["t5"]);
  });

  it("rejects malformed requests with Matrix errors", async () => {
    const { user } = await userWithRooms(1);
    expectError(await call("POST", PATH, { token: user.accessToken, rawBody: "{not json" }), 400, "M_NOT_JSON");
    expectError(await slide(user, { lists: { all: { ranges: [[-1, 5]], timeline_limit: 1 } } }), 400, "M_BAD_JSON");
    expectError(await slide(user, { lists: { all: { ranges: [[5, 1]], timeline_limit: 1 } } }), 400, "M_BAD_JSON");
    expectError(await slide(user, { lists: { all: { ranges: "all" } } }), 400, "M_BAD_JSON");
    expectError(await slide(user, { lists: { all: { ranges: [[0, 1]], required_state: [["only one"]] } } }), 400, "M_BAD_JSON");
    expectError(await slide(user, { room_subscriptions: { "!a:b": { timeline_limit: -1 } } }), 400, "M_BAD_JSON");
    expectError(await slide(user, {}, { timeout: "soon" }), 400, "M_INVALID_PARAM");
    expectError(await slide(user, {}, { set_presence: "asleep" }), 400, "M_INVALID_PARAM");
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`l${i}`, list([0, 0])]));
    expectError(await slide(user, { lists: tooMany }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", PATH, { body: {} }), 401, "M_MISSING_TOKEN");
  });

  it("never answers a 5xx to odd but well-formed JSON", async () => {
    const { user, rooms } = await userWithRooms(2);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const odd = [null, true, -1, 0, 1.5, 2 ** 53, "", "*", "$LAZY", "$ME", [], {}, [[0, 1]], [["*", "*"]], { include: [{}] }, rooms[0]!, "!nope:x"];
    const anyOf = () => odd[Math.floor(rand() * odd.length)];
    const shapes = [
      () => ({ lists: { a: { ranges: anyOf(), timeline_limit: anyOf(), required_state: anyOf(), filters: { is_dm: anyOf(), spaces: anyOf(), room_types: anyOf() } } } }),
      () => ({ room_subscriptions: { [String(anyOf())]: { timeline_limit: anyOf(), required_state: anyOf() } } }),
      () => ({ extensions: { to_device: { enabled: anyOf(), since: anyOf(), limit: anyOf() }, e2ee: anyOf(), receipts: anyOf() } }),
      () => ({ conn_id: anyOf(), pos: anyOf(), timeout: anyOf(), unsubscribe_rooms: anyOf() }),
      () => ({ lists: { a: { range: anyOf(), timeline_limit: 1, required_state: { include: [{ type: anyOf(), state_key: anyOf() }], exclude: anyOf(), lazy_members: anyOf() } } } }),
    ];
    for (let i = 0; i < 60; i++) {
      const body = shapes[Math.floor(rand() * shapes.length)]!();
      const res = await slide(user, body);
      expect(res.status, JSON.stringify({ body, res: res.body })).toBeLessThan(500);
      if (res.status !== 200) expect(typeof res.body["errcode"]).toBe("string");
    }
  });

  it("ignores subscriptions to rooms the user has no part in", async () => {
    const alice = await registerUser("sspriv");
    const mallory = await registerUser("sspriv");
    const roomId = await createRoom(alice, { name: "private" });
    const res = await slideOk(mallory, { room_subscriptions: { [roomId]: { timeline_limit: 10, required_state: [["*", "*"]] } } });
    expect(res.rooms).toEqual({});
  });

  it("keeps a room the user left only if the connection had sent it, and shows a kick", async () => {
    const alice = await registerUser("ssleave");
    const bob = await registerUser("ssleave");
    const left = await createRoom(alice, { name: "left" });
    const kicked = await createRoom(alice, { name: "kicked" });
    const neverSeen = await createRoom(alice, { name: "never seen" });
    for (const roomId of [left, kicked, neverSeen]) await joinUser(alice, bob, roomId);
    const lists = { all: list([0, 9]) };
    const first = await slideOk(bob, { lists, conn_id: "a" });
    expect(first.lists["all"]!.count).toBe(3);
    await call("POST", `/_matrix/client/v3/rooms/${r(left)}/leave`, { token: bob.accessToken, body: {} });
    await call("POST", `/_matrix/client/v3/rooms/${r(kicked)}/kick`, { token: alice.accessToken, body: { user_id: bob.userId } });
    const second = await slideOk(bob, { lists, conn_id: "a" }, { pos: first.pos });
    expect(second.rooms[left]!.membership).toBe("leave");
    expect(second.rooms[kicked]!.membership).toBe("leave");
    expect(second.lists["all"]!.count).toBe(3);
    // A new connection never sent the room bob left himself: only the kick is listed.
    const fresh = await slideOk(bob, { lists, conn_id: "b" });
    expect(Object.keys(fresh.rooms).sort()).toEqual([kicked, neverSeen].sort());
  });
});
