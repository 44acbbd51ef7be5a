import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser, uniqueName } from "../helpers";

const room = (roomId: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;

async function createRoom(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["room_id"] as string;
}

async function join(user: TestUser, roomId: string): Promise<string> {
  const res = await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const state = await call("GET", `${room(roomId)}/state/m.room.member/${encodeURIComponent(user.userId)}?format=event`, { token: user.accessToken });
  return state.body["event_id"] as string;
}

/** Sends a message and returns its id and timestamp. */
async function send(user: TestUser, roomId: string, body: string): Promise<{ eventId: string; ts: number }> {
  const res = await call("PUT", `${room(roomId)}/send/m.room.message/${crypto.randomUUID()}`, { token: user.accessToken, body: { msgtype: "m.text", body } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const eventId = res.body["event_id"] as string;
  const event = await call("GET", `${room(roomId)}/event/${encodeURIComponent(eventId)}`, { token: user.accessToken });
  return { eventId, ts: event.body["origin_server_ts"] as number };
}

/** Waits until the clock is past `ts`, so the next event gets a later timestamp. */
async function after(ts: number): Promise<void> {
  while (Date.now() <= ts) await new Promise((resolve) => setTimeout(resolve, 2));
}

async function setJoinedHistory(user: TestUser, roomId: string): Promise<void> {
  const res = await call("PUT", `${room(roomId)}/state/m.room.history_visibility/`, { token: user.accessToken, body: { history_visibility: "joined" } });
  expect(res.status).toBe(200);
}

function eventReports(eventId: string) {
  return env.DB.prepare("SELECT room_id, reporter, reason, score FROM event_reports WHERE event_id = ?").bind(eventId).all();
}

describe("reporting events", () => {
  it("stores a report from a member who can see the event", async () => {
    const alice = await registerUser("rep");
    const roomId = await createRoom(alice);
    const { eventId } = await send(alice, roomId, "offensive");
    const res = await call("POST", `${room(roomId)}/report/${encodeURIComponent(eventId)}`, { token: alice.accessToken, body: { reason: "rude", score: -100 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await eventReports(eventId)).results).toEqual([{ room_id: roomId, reporter: alice.userId, reason: "rude", score: -100 }]);
    expect((await call("POST", `${room(roomId)}/report/${encodeURIComponent(eventId)}`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await eventReports(eventId)).results).toHaveLength(2);
  });

  it("answers 404 to non-members and for events the reporter cannot see or that are elsewhere", async () => {
    const alice = await registerUser("rep");
    const bob = await registerUser("rep");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const otherRoom = await createRoom(alice);
    await setJoinedHistory(alice, roomId);
    const early = await send(alice, roomId, "before bob");
    await join(bob, roomId);
    const late = await send(alice, roomId, "after bob");
    const elsewhere = await send(alice, otherRoom, "elsewhere");

    const report = (user: TestUser, eventId: string, roomId_ = roomId) =>
      call("POST", `${room(roomId_)}/report/${encodeURIComponent(eventId)}`, { token: user.accessToken, body: { reason: "x" } });
    expectError(await report(eve, late.eventId), 404, "M_NOT_FOUND");
    expectError(await report(bob, early.eventId), 404, "M_NOT_FOUND");
    expectError(await report(bob, "$unknown"), 404, "M_NOT_FOUND");
    expectError(await report(alice, elsewhere.eventId), 404, "M_NOT_FOUND");
    expect((await eventReports(early.eventId)).results).toEqual([]);
    expect((await report(bob, late.eventId)).status).toBe(200);
    expect((await eventReports(late.eventId)).results).toHaveLength(1);
  });

  it("requires the reporter to be joined even where history is world-readable", async () => {
    const alice = await registerUser("rep");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    const res = await call("PUT", `${room(roomId)}/state/m.room.history_visibility/`, { token: alice.accessToken, body: { history_visibility: "world_readable" } });
    expect(res.status).toBe(200);
    const { eventId } = await send(alice, roomId, "public history");
    expect((await call("GET", `${room(roomId)}/event/${encodeURIComponent(eventId)}`, { token: eve.accessToken })).status).toBe(200);
    expectError(await call("POST", `${room(roomId)}/report/${encodeURIComponent(eventId)}`, { token: eve.accessToken, body: {} }), 404, "M_NOT_FOUND");
    expect((await eventReports(eventId)).results).toEqual([]);
  });

  it("rejects malformed requests", async () => {
    const alice = await registerUser("rep");
    const roomId = await createRoom(alice);
    const { eventId } = await send(alice, roomId, "x");
    const path = `${room(roomId)}/report/${encodeURIComponent(eventId)}`;
    expectError(await call("POST", path, { body: {} }), 401, "M_MISSING_TOKEN");
    expectError(await call("POST", path, { token: alice.accessToken, rawBody: "{" }), 400, "M_NOT_JSON");
    expectError(await call("POST", path, { token: alice.accessToken, body: { reason: 5 } }), 400, "M_BAD_JSON");
    expectError(await call("POST", path, { token: alice.accessToken, body: { score: 10 } }), 400, "M_BAD_JSON");
    expectError(await call("POST", `/_matrix/client/v3/rooms/not-a-room/report/${encodeURIComponent(eventId)}`, { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
    expect((await eventReports(eventId)).results).toEqual([]);
  });
});

describe("reporting rooms", () => {
  it("accepts reports from users outside the room", async () => {
    const alice = await registerUser("rep");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    const res = await call("POST", `${room(roomId)}/report`, { token: eve.accessToken, body: { reason: "spam room" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await call("POST", `${room(roomId)}/report`, { token: alice.accessToken, body: { reason: "" } })).status).toBe(200);
    const stored = await env.DB.prepare("SELECT reporter, reason FROM room_reports WHERE room_id = ? ORDER BY id").bind(roomId).all();
    expect(stored.results).toEqual([
      { reporter: eve.userId, reason: "spam room" },
      { reporter: alice.userId, reason: "" },
    ]);
  });

  it("answers 404 for unknown rooms and 400 for bad bodies", async () => {
    const alice = await registerUser("rep");
    const roomId = await createRoom(alice);
    expectError(await call("POST", `${room(`!${uniqueName()}:${env.SERVER_NAME}`)}/report`, { token: alice.accessToken, body: { reason: "x" } }), 404, "M_NOT_FOUND");
    expectError(await call("POST", `${room(roomId)}/report`, { token: alice.accessToken, body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${room(roomId)}/report`, { token: alice.accessToken, rawBody: "nope" }), 400, "M_NOT_JSON");
    expectError(await call("POST", `${room(roomId)}/report`, { body: { reason: "x" } }), 401, "M_MISSING_TOKEN");
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM room_reports WHERE room_id = ?").bind(roomId).first<number>("n");
    expect(stored).toBe(0);
  });
});

describe("timestamp_to_event", () => {
  const lookup = (user: TestUser, roomId: string, query: string) =>
    call("GET", `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?${query}`, { token: user.accessToken });

  it("finds the nearest event in either direction, an event at exactly ts included", async () => {
    const alice = await registerUser("ts");
    const roomId = await createRoom(alice);
    const first = await send(alice, roomId, "first");
    await after(first.ts);
    const second = await send(alice, roomId, "second");
    await after(second.ts);
    const third = await send(alice, roomId, "third");

    expect((await lookup(alice, roomId, `ts=${first.ts + 1}&dir=f`)).body).toEqual({ event_id: second.eventId, origin_server_ts: second.ts });
    expect((await lookup(alice, roomId, `ts=${third.ts - 1}&dir=b`)).body).toEqual({ event_id: second.eventId, origin_server_ts: second.ts });
    expect((await lookup(alice, roomId, `ts=${second.ts}&dir=f`)).body["event_id"]).toBe(second.eventId);
    expect((await lookup(alice, roomId, `ts=${second.ts}&dir=b`)).body["event_id"]).toBe(second.eventId);
    expect((await lookup(alice, roomId, `ts=${third.ts + 60_000}&dir=b`)).body["event_id"]).toBe(third.eventId);
    expectError(await lookup(alice, roomId, `ts=${third.ts + 60_000}&dir=f`), 404, "M_NOT_FOUND");
    expectError(await lookup(alice, roomId, "ts=0&dir=b"), 404, "M_NOT_FOUND");
    const create = await call("GET", `${room(roomId)}/state/m.room.create/?format=event`, { token: alice.accessToken });
    expect((await lookup(alice, roomId, "ts=0&dir=f")).body["event_id"]).toBe(create.body["event_id"]);
  });

  it("skips events the user may not see, past a whole batch of them", async () => {
    const alice = await registerUser("ts");
    const bob = await registerUser("ts");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await setJoinedHistory(alice, roomId);
    // Events before the change to `joined` stay visible to members (`shared`): start the hidden ones later.
    await after(Date.now());
    const hidden = [];
    for (let i = 0; i < 55; i++) hidden.push(await send(alice, roomId, `hidden ${i}`));
    const [first, last] = [hidden[0]!, hidden[hidden.length - 1]!];
    await after(last.ts);
    const bobJoin = await join(bob, roomId);

    expect((await lookup(bob, roomId, `ts=${first.ts}&dir=f`)).body["event_id"]).toBe(bobJoin);
    expect((await lookup(alice, roomId, `ts=${first.ts}&dir=f`)).body["event_id"]).toBe(first.eventId);
    const before = await lookup(bob, roomId, `ts=${last.ts}&dir=b`);
    expect(before.body["origin_server_ts"]).toBeLessThan(first.ts);
    expect(hidden.map((e) => e.eventId)).not.toContain(before.body["event_id"]);
    expect((await lookup(alice, roomId, `ts=${last.ts}&dir=b`)).body["event_id"]).toBe(last.eventId);
  });

  it("refuses non-members and bad parameters", async () => {
    const alice = await registerUser("ts");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    expectError(await lookup(eve, roomId, "ts=0&dir=f"), 403, "M_FORBIDDEN");
    expectError(await lookup(alice, roomId, "dir=f"), 400, "M_MISSING_PARAM");
    expectError(await lookup(alice, roomId, "ts=0"), 400, "M_MISSING_PARAM");
    expectError(await lookup(alice, roomId, "ts=soon&dir=f"), 400, "M_INVALID_PARAM");
    expectError(await lookup(alice, roomId, "ts=-5&dir=f"), 400, "M_INVALID_PARAM");
    expectError(await lookup(alice, roomId, "ts=0&dir=x"), 400, "M_INVALID_PARAM");
    expectError(await lookup(alice, "not-a-room", "ts=0&dir=f"), 400, "M_INVALID_PARAM");
    expectError(await call("GET", `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?ts=0&dir=f`), 401, "M_MISSING_TOKEN");
  });
});
