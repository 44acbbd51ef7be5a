import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { setTyping } from "../../src/services/typing";
import { wakeRoomMembers, wakeUser } from "../../src/sync/wake";
import { setAccountDataFromClient } from "../../src/services/account-data";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { type ClientEventJson, createRoom, joinUser, messagesOf, r, sendMessage, sendState } from "./room-helpers";

interface RoomJson {
  timeline: { events: ClientEventJson[]; limited: boolean; prev_batch: string };
  state: { events: ClientEventJson[] };
  state_after?: { events: ClientEventJson[] };
  summary?: Record<string, unknown>;
  ephemeral?: { events: { type: string; content: Record<string, unknown> }[] };
  account_data?: { events: { type: string; content: Record<string, unknown> }[] };
}
interface SyncJson {
  next_batch: string;
  rooms: {
    join: Record<string, RoomJson>;
    invite: Record<string, { invite_state: { events: ClientEventJson[] } }>;
    knock: Record<string, unknown>;
    leave: Record<string, RoomJson>;
  };
  account_data: { events: { type: string; content: Record<string, unknown> }[] };
}

function syncOf(user: TestUser, params: Record<string, string> = {}) {
  return call("GET", `/_matrix/client/v3/sync?${new URLSearchParams(params)}`, { token: user.accessToken });
}

async function syncOk(user: TestUser, params: Record<string, string> = {}): Promise<SyncJson> {
  const res = await syncOf(user, params);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as SyncJson;
}

const limitFilter = (limit: number, extra: Record<string, unknown> = {}) => JSON.stringify({ room: { timeline: { limit }, ...extra } });
const bodies = (events: ClientEventJson[]) => events.filter((e) => e.type === "m.room.message").map((e) => e.content["body"]);
const stateOf = (events: ClientEventJson[], type: string, stateKey = "") => events.find((e) => e.type === type && e.state_key === stateKey);

describe("GET /sync", () => {
  it("gives an initial sync of a joined room: recent timeline, the state before it, a summary", async () => {
    const alice = await registerUser("salice");
    const roomId = await createRoom(alice, { name: "Sync room" });
    const sent = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const body of sent) expect((await sendMessage(alice, roomId, body)).status).toBe(200);

    const sync = await syncOk(alice);
    expect(sync.next_batch).toMatch(/^s\d+_\d+$/);
    const room = sync.rooms.join[roomId]!;
    expect(bodies(room.timeline.events)).toEqual(sent.slice(2));
    expect(room.timeline.events).toHaveLength(10);
    expect(room.timeline.limited).toBe(true);
    // Timeline and state together are the whole room, without overlap.
    const timelineIds = new Set(room.timeline.events.map((e) => e.event_id));
    expect(room.state.events.some((e) => timelineIds.has(e.event_id))).toBe(false);
    const all = [...room.state.events, ...room.timeline.events];
    expect(stateOf(all, "m.room.create")).toBeTruthy();
    expect(stateOf(all, "m.room.name")?.content).toEqual({ name: "Sync room" });
    expect(room.summary).toEqual({ "m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0 });
    // The sender's device sees its transaction ids (local echo).
    expect(room.timeline.events.at(-1)!.unsigned?.["transaction_id"]).toBeTypeOf("string");
  });

  it("limits the timeline and sends exactly the state at its start; prev_batch and next_batch page with /messages", async () => {
    const alice = await registerUser("slimit");
    const roomId = await createRoom(alice, { name: "Before" });
    for (let i = 0; i < 5; i++) await sendMessage(alice, roomId, `m${i}`);
    expect((await sendState(alice, roomId, "m.room.name", "", { name: "After" })).status).toBe(200);
    await sendMessage(alice, roomId, "m5");
    await sendMessage(alice, roomId, "m6");

    const sync = await syncOk(alice, { filter: limitFilter(3) });
    const room = sync.rooms.join[roomId]!;
    expect(room.timeline.limited).toBe(true);
    expect(room.timeline.events.map((e) => e.type)).toEqual(["m.room.name", "m.room.message", "m.room.message"]);
    expect(stateOf(room.state.events, "m.room.name")?.content).toEqual({ name: "Before" });
    expect(stateOf(room.state.events, "m.room.member", alice.userId)).toBeTruthy();

    const older = await messagesOf(alice, roomId, `dir=b&limit=2&from=${room.timeline.prev_batch}`);
    expect(older.status).toBe(200);
    expect(older.body.chunk.map((e) => e.content["body"])).toEqual(["m4", "m3"]);
    const fromNext = await messagesOf(alice, roomId, `dir=b&limit=1&from=${sync.next_batch}`);
    expect(fromNext.body.chunk.map((e) => e.content["body"])).toEqual(["m6"]);
  });

  it("sends state_after, the state at the timeline's end, instead of state when use_state_after is set", async () => {
    const alice = await registerUser("safter");
    const roomId = await createRoom(alice, { name: "Before" });
    const first = await syncOk(alice);
    await sendMessage(alice, roomId, "x");
    await sendState(alice, roomId, "m.room.name", "", { name: "After" });
    await sendMessage(alice, roomId, "y");
    const initial = (await syncOk(alice, { use_state_after: "true", filter: limitFilter(1) })).rooms.join[roomId]!;
    expect(initial.state).toBeUndefined();
    expect(stateOf(initial.state_after!.events, "m.room.name")?.content).toEqual({ name: "After" });
    expect(stateOf(initial.state_after!.events, "m.room.create")).toBeTruthy();
    const next = (await syncOk(alice, { since: first.next_batch, use_state_after: "true" })).rooms.join[roomId]!;
    expect(bodies(next.timeline.events)).toEqual(["x", "y"]);
    expect(next.state_after!.events.map((e) => [e.type, e.content["name"]])).toEqual([["m.room.name", "After"]]);
  });

  it("reports only the rooms that changed since the token, with only the new events", async () => {
    const alice = await registerUser("sincr");
    const quiet = await createRoom(alice);
    const busy = await createRoom(alice);
    const first = await syncOk(alice);
    expect(Object.keys(first.rooms.join).sort()).toEqual([quiet, busy].sort());

    const empty = await syncOk(alice, { since: first.next_batch });
    expect(empty.rooms.join).toEqual({});
    await sendMessage(alice, busy, "news");
    const next = await syncOk(alice, { since: first.next_batch });
    expect(Object.keys(next.rooms.join)).toEqual([busy]);
    const room = next.rooms.join[busy]!;
    expect(bodies(room.timeline.events)).toEqual(["news"]);
    expect(room.timeline.events).toHaveLength(1);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
    expect(room.summary).toBeUndefined();

    // full_state sends every joined room's state even without news.
    const full = await syncOk(alice, { since: next.next_batch, full_state: "true" });
    expect(Object.keys(full.rooms.join).sort()).toEqual([quiet, busy].sort());
    expect(stateOf(full.rooms.join[quiet]!.state.events, "m.room.create")).toBeTruthy();
  });

  it("sends only the state changes in the gap of a limited incremental sync", async () => {
    const alice = await registerUser("sgap");
    const roomId = await createRoom(alice, { name: "Old" });
    const first = await syncOk(alice);
    await sendState(alice, roomId, "m.room.topic", "", { topic: "gap topic" });
    for (let i = 0; i < 4; i++) await sendMessage(alice, roomId, `g${i}`);
    const next = await syncOk(alice, { since: first.next_batch, filter: limitFilter(2) });
    const room = next.rooms.join[roomId]!;
    expect(room.timeline.limited).toBe(true);
    expect(bodies(room.timeline.events)).toEqual(["g2", "g3"]);
    expect(room.state.events.map((e) => e.type)).toEqual(["m.room.topic"]);
  });

  it("puts invites in rooms.invite with stripped state, a new join's full state in rooms.join, and a kick in rooms.leave", async () => {
    const alice = await registerUser("sowner");
    const bob = await registerUser("sguest");
    const roomId = await createRoom(alice, { name: "Invite room" });
    const before = await syncOk(bob);
    expect(before.rooms.invite).toEqual({});

    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } })).status).toBe(200);
    const invited = await syncOk(bob, { since: before.next_batch });
    const inviteState = invited.rooms.invite[roomId]!.invite_state.events;
    expect(stateOf(inviteState, "m.room.member", bob.userId)?.content["membership"]).toBe("invite");
    expect(stateOf(inviteState, "m.room.name")?.content).toEqual({ name: "Invite room" });
    expect(stateOf(inviteState, "m.room.create")).toBeTruthy();
    expect(Object.keys(invited.rooms.join)).toEqual([]);

    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/join`, { token: bob.accessToken })).status).toBe(200);
    const joined = await syncOk(bob, { since: invited.next_batch });
    expect(joined.rooms.invite).toEqual({});
    const room = joined.rooms.join[roomId]!;
    const all = [...room.state.events, ...room.timeline.events];
    expect(stateOf(all, "m.room.create")).toBeTruthy();
    expect(stateOf([...all].reverse(), "m.room.member", bob.userId)?.content["membership"]).toBe("join");
    expect(room.summary).toMatchObject({ "m.heroes": [alice.userId], "m.joined_member_count": 2, "m.invited_member_count": 0 });

    await sendMessage(alice, roomId, "last words");
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/kick`, { token: alice.accessToken, body: { user_id: bob.userId } })).status).toBe(200);
    await sendMessage(alice, roomId, "after the kick");
    const kicked = await syncOk(bob, { since: joined.next_batch });
    expect(kicked.rooms.join).toEqual({});
    const left = kicked.rooms.leave[roomId]!;
    expect(bodies(left.timeline.events)).toEqual(["last words"]);
    expect(left.timeline.events.at(-1)).toMatchObject({ type: "m.room.member", state_key: bob.userId, content: { membership: "leave" } });

    // Include_leave brings left rooms into an initial sync.
    const initial = await syncOk(bob, { filter: JSON.stringify({ room: { include_leave: true } }) });
    expect(Object.keys(initial.rooms.leave)).toEqual([roomId]);
    expect(Object.keys((await syncOk(bob)).rooms.leave)).toEqual([]);
    // A forgotten room is gone from sync altogether.
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/forget`, { token: bob.accessToken })).status).toBe(200);
    expect((await syncOk(bob, { filter: JSON.stringify({ room: { include_leave: true } }) })).rooms.leave).toEqual({});
  });

  it("puts a knock in rooms.knock with the stripped state and the knock itself", async () => {
    const alice = await registerUser("sknockee");
    const bob = await registerUser("sknocker");
    const roomId = await createRoom(alice, { name: "Knock here", initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock" } }] });
    const before = await syncOk(bob);
    expect((await call("POST", `/_matrix/client/v3/knock/${r(roomId)}`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const sync = await syncOk(bob, { since: before.next_batch });
    const knockState = (sync.rooms.knock[roomId] as { knock_state: { events: ClientEventJson[] } }).knock_state.events;
    expect(stateOf(knockState, "m.room.member", bob.userId)?.content["membership"]).toBe("knock");
    expect(stateOf(knockState, "m.room.name")?.content).toEqual({ name: "Knock here" });
    expect(sync.rooms.join).toEqual({});
  });

  it("shows a rejected invite as a leave holding only the rejection", async () => {
    const alice = await registerUser("srej");
    const bob = await registerUser("srejected");
    const roomId = await createRoom(alice);
    await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } });
    const invited = await syncOk(bob);
    expect(invited.rooms.invite[roomId]).toBeTruthy();
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/leave`, { token: bob.accessToken })).status).toBe(200);
    const rejected = await syncOk(bob, { since: invited.next_batch });
    const left = rejected.rooms.leave[roomId]!;
    expect(left.timeline.events.map((e) => [e.type, e.content["membership"]])).toEqual([["m.room.member", "leave"]]);
    expect(left.state.events).toEqual([]);
  });

  it("respects history visibility: a joiner of a 'joined' room does not see earlier messages", async () => {
    const alice = await registerUser("shv");
    const bob = await registerUser("shvjoin");
    const roomId = await createRoom(alice, { initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "joined" } }] });
    await sendMessage(alice, roomId, "secret");
    await joinUser(alice, bob, roomId);
    await sendMessage(alice, roomId, "public");
    const sync = await syncOk(bob, { filter: limitFilter(50) });
    expect(bodies(sync.rooms.join[roomId]!.timeline.events)).toEqual(["public"]);
  });

  it("scans past a window of hidden history to fill a joiner's timeline", async () => {
    const alice = await registerUser("shidden");
    const bob = await registerUser("shiddenjoin");
    const roomId = await createRoom(alice, { initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "joined" } }] });
    for (let i = 0; i < 25; i++) await sendMessage(alice, roomId, `hidden ${i}`);
    await joinUser(alice, bob, roomId);
    await sendMessage(alice, roomId, "seen");
    const room = (await syncOk(bob, { filter: limitFilter(5) })).rooms.join[roomId]!;
    expect(bodies(room.timeline.events)).toEqual(["seen"]);
    // Before it, only what was sent while the history was still `shared` (the preset's state at creation).
    expect(room.timeline.events.slice(-2).map((e) => e.type)).toEqual(["m.room.member", "m.room.message"]);
    expect(room.timeline.events).toHaveLength(5);
    expect(stateOf(room.state.events, "m.room.create")).toBeTruthy();
  });

  it("lazy-loads members: state holds only the timeline's senders and the user", async () => {
    const alice = await registerUser("sll");
    const bob = await registerUser("sllbob");
    const carol = await registerUser("sllcarol");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    await joinUser(alice, carol, roomId);
    await sendMessage(carol, roomId, "carol early");
    for (let i = 0; i < 3; i++) await sendMessage(bob, roomId, `bob ${i}`);
    const filter = JSON.stringify({ room: { timeline: { limit: 2 }, state: { lazy_load_members: true } } });
    const room = (await syncOk(alice, { filter })).rooms.join[roomId]!;
    const members = room.state.events.filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
    expect(stateOf(room.state.events, "m.room.power_levels")).toBeTruthy();
  });

  it("wakes a waiting sync as soon as another user sends, and times out empty otherwise", async () => {
    const alice = await registerUser("swake");
    const bob = await registerUser("swaiter");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const { next_batch } = await syncOk(bob);

    let started = Date.now();
    const idle = await syncOk(bob, { since: next_batch, timeout: "300" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(idle.rooms.join).toEqual({});

    started = Date.now();
    const waiting = syncOk(bob, { since: idle.next_batch, timeout: "20000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await sendMessage(alice, roomId, "wake up")).status).toBe(200);
    const woken = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(bodies(woken.rooms.join[roomId]!.timeline.events)).toEqual(["wake up"]);
  });

  it("wakes a waiting sync for shared-stream changes (typing through its endpoint, account data)", async () => {
    const alice = await registerUser("stwake");
    const bob = await registerUser("stwaiter");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const { next_batch } = await syncOk(bob);
    const started = Date.now();
    const waiting = syncOk(bob, { since: next_batch, timeout: "20000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const typed = await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, {
      token: alice.accessToken,
      body: { typing: true, timeout: 10_000 },
    });
    expect(typed.status).toBe(200);
    const woken = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(woken.rooms.join[roomId]!.ephemeral!.events).toContainEqual({ type: "m.typing", content: { user_ids: [alice.userId] } });

    // Account data concerns its owner only.
    const accountStarted = Date.now();
    const waitingForAccountData = syncOk(bob, { since: woken.next_batch, timeout: "20000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const position = await setAccountDataFromClient(env.DB, bob.userId, null, "org.example.woken", { yes: true });
    await wakeUser(env, bob.userId, position);
    const withAccountData = await waitingForAccountData;
    expect(Date.now() - accountStarted).toBeLessThan(5000);
    expect(withAccountData.account_data.events).toEqual([{ type: "org.example.woken", content: { yes: true } }]);
  });

  it("includes account data, typing and receipts", async () => {
    const alice = await registerUser("sad");
    const roomId = await createRoom(alice);
    const first = await syncOk(alice);
    const sent = await sendMessage(alice, roomId, "read me");
    const eventId = sent.body["event_id"] as string;
    const base = `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}`;
    expect((await call("PUT", `${base}/account_data/org.example.setting`, { token: alice.accessToken, body: { on: true } })).status).toBe(200);
    expect((await call("PUT", `${base}/rooms/${r(roomId)}/account_data/org.example.room`, { token: alice.accessToken, body: { n: 1 } })).status).toBe(200);
    expect((await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { token: alice.accessToken, body: { typing: true, timeout: 10000 } })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/receipt/m.read/${r(eventId)}`, { token: alice.accessToken, body: {} })).status).toBe(200);

    const next = await syncOk(alice, { since: first.next_batch });
    expect(next.account_data.events).toContainEqual({ type: "org.example.setting", content: { on: true } });
    const room = next.rooms.join[roomId]!;
    expect(room.account_data!.events).toContainEqual({ type: "org.example.room", content: { n: 1 } });
    expect(room.ephemeral!.events).toContainEqual({ type: "m.typing", content: { user_ids: [alice.userId] } });
    const receipt = room.ephemeral!.events.find((e) => e.type === "m.receipt")!;
    expect(Object.keys(receipt.content)).toEqual([eventId]);

    // The filter's type lists apply to each section.
    const filtered = await syncOk(alice, {
      since: first.next_batch,
      filter: JSON.stringify({ account_data: { not_types: ["org.example.*"] }, room: { ephemeral: { types: ["m.receipt"] } } }),
    });
    expect(filtered.account_data.events).toEqual([]);
    expect(filtered.rooms.join[roomId]!.ephemeral!.events.map((e) => e.type)).toEqual(["m.receipt"]);
  });

  it("applies the rooms lists of the room filter and of its timeline and state filters", async () => {
    const alice = await registerUser("srooms");
    const shown = await createRoom(alice, { name: "Shown" });
    const hidden = await createRoom(alice, { name: "Hidden" });
    const onlyShown = await syncOk(alice, { filter: JSON.stringify({ room: { not_rooms: [hidden] } }) });
    expect(Object.keys(onlyShown.rooms.join)).toEqual([shown]);
    const noTimeline = await syncOk(alice, { filter: JSON.stringify({ room: { timeline: { not_rooms: [hidden] }, state: { rooms: [shown] } } }) });
    expect(noTimeline.rooms.join[hidden]!.timeline.events).toEqual([]);
    expect(noTimeline.rooms.join[hidden]!.state.events).toEqual([]);
    expect(noTimeline.rooms.join[shown]!.timeline.events.length).toBeGreaterThan(0);
  });

  it("stores filters per user and uses them by id", async () => {
    const alice = await registerUser("sfilter");
    const eve = await registerUser("sfiltereve");
    const roomId = await createRoom(alice);
    const definition = { room: { timeline: { limit: 1 } }, event_format: "client" };
    const created = await call("POST", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter`, { token: alice.accessToken, body: definition });
    expect(created.status).toBe(200);
    const filterId = created.body["filter_id"] as string;
    expect(filterId.startsWith("{")).toBe(false);
    const read = await call("GET", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter/${filterId}`, { token: alice.accessToken });
    expect(read.body).toEqual(definition);
    expectError(await call("GET", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter/${filterId}`, { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("GET", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter/999999999`, { token: alice.accessToken }), 404, "M_NOT_FOUND");
    expectError(
      await call("POST", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter`, { token: alice.accessToken, body: { room: { timeline: { limit: "ten" } } } }),
      400,
      "M_BAD_JSON",
    );
    const sync = await syncOk(alice, { filter: filterId });
    expect(sync.rooms.join[roomId]!.timeline.events).toHaveLength(1);
    // Another user's filter id is unknown to eve.
    expectError(await syncOf(eve, { filter: filterId }), 400, "M_INVALID_PARAM");
  });

  it("refuses bad tokens, filters and timeouts with 400, never a 500", async () => {
    const alice = await registerUser("sbad");
    const { next_batch } = await syncOk(alice);
    const [events, shared] = next_batch.slice(1).split("_").map(Number) as [number, number];
    const bad: Record<string, string>[] = [
      { since: "garbage" },
      { since: "s12" },
      { since: `s${events + 1000}_${shared}` },
      { since: `s${events}_${shared + 1000}` },
      { filter: "{not json" },
      { filter: "424242424242" },
      { filter: "nonsense-id" },
      { filter: JSON.stringify({ room: { timeline: { limit: "ten" } } }) },
      { filter: JSON.stringify({ room: { rooms: "!notalist:x" } }) },
      { timeout: "-5" },
      { timeout: "soon" },
      { full_state: "maybe" },
      { set_presence: "asleep" },
    ];
    for (const params of bad) {
      expectError(await syncOf(alice, params), 400, "M_INVALID_PARAM");
    }
    expectError(await call("GET", "/_matrix/client/v3/sync"), 401, "M_MISSING_TOKEN");
    expect((await syncOf(alice, { since: next_batch, set_presence: "offline", timeout: "0" })).status).toBe(200);
  });
});
