import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { receiptsSince } from "../../src/services/receipts";
import { currentStreamPosition } from "../../src/storage/stream-positions";
import { type TestUser, call, expectError, registerUser } from "../helpers";

async function createRoom(user: TestUser): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body: { preset: "public_chat" } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["room_id"] as string;
}

async function join(user: TestUser, roomId: string): Promise<void> {
  expect((await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: user.accessToken })).status).toBe(200);
}

async function send(user: TestUser, roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
  const res = await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${crypto.randomUUID()}`, {
    token: user.accessToken,
    body: content,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["event_id"] as string;
}

const text = (body: string) => ({ msgtype: "m.text", body });
const inThread = (root: string, body: string) => ({ ...text(body), "m.relates_to": { rel_type: "m.thread", event_id: root } });

function receipt(user: TestUser, roomId: string, type: string, eventId: string, body?: unknown) {
  return call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/${type}/${encodeURIComponent(eventId)}`, {
    token: user.accessToken,
    body: body ?? {},
  });
}

function readMarkers(user: TestUser, roomId: string, body: unknown) {
  return call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/read_markers`, { token: user.accessToken, body });
}

async function fullyRead(user: TestUser, roomId: string) {
  return call("GET", `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/rooms/${encodeURIComponent(roomId)}/account_data/m.fully_read`, {
    token: user.accessToken,
  });
}

/** The receipts `viewer` would be sent for one room, from the start. */
async function receiptsIn(viewer: TestUser, roomId: string) {
  return (await receiptsSince(env.DB, viewer.userId, [roomId], 0, await currentStreamPosition(env.DB)))[roomId];
}

describe("receipts", () => {
  it("stores m.read receipts, visible to everyone, and m.read.private only to their sender", async () => {
    const alice = await registerUser("rcalice");
    const bob = await registerUser("rcbob");
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    const e1 = await send(alice, roomId, text("one"));
    const e2 = await send(alice, roomId, text("two"));
    const res = await receipt(bob, roomId, "m.read", e1);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await receipt(bob, roomId, "m.read.private", e2)).status).toBe(200);

    const asBob = await receiptsIn(bob, roomId);
    expect(asBob).toEqual({
      [e1]: { "m.read": { [bob.userId]: { ts: expect.any(Number) } } },
      [e2]: { "m.read.private": { [bob.userId]: { ts: expect.any(Number) } } },
    });
    expect(await receiptsIn(alice, roomId)).toEqual({ [e1]: { "m.read": { [bob.userId]: { ts: expect.any(Number) } } } });
  });

  it("only moves forward: a receipt for an older event is accepted and changes nothing", async () => {
    const alice = await registerUser("rcfwd");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    const e2 = await send(alice, roomId, text("two"));
    await receipt(alice, roomId, "m.read", e2);
    const before = await currentStreamPosition(env.DB);
    expect((await receipt(alice, roomId, "m.read", e1)).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", e2)).status).toBe(200);
    expect(await receiptsSince(env.DB, alice.userId, [roomId], before, await currentStreamPosition(env.DB))).toEqual({});
    expect(Object.keys((await receiptsIn(alice, roomId))!)).toEqual([e2]);
  });

  it("sets the fully read marker through m.fully_read, never backwards", async () => {
    const alice = await registerUser("rcfully");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    const e2 = await send(alice, roomId, text("two"));
    expectError(await fullyRead(alice, roomId), 404, "M_NOT_FOUND");
    expect((await receipt(alice, roomId, "m.fully_read", e2)).status).toBe(200);
    expect((await fullyRead(alice, roomId)).body).toEqual({ event_id: e2 });
    expect((await receipt(alice, roomId, "m.fully_read", e1)).status).toBe(200);
    expect((await fullyRead(alice, roomId)).body).toEqual({ event_id: e2 });
    // m.fully_read is account data, not an m.receipt.
    expect(await receiptsIn(alice, roomId)).toBeUndefined();
  });

  it("refuses unknown receipt types, unknown events, events of other rooms and non-members", async () => {
    const alice = await registerUser("rcerr");
    const eve = await registerUser("rceve");
    const roomId = await createRoom(alice);
    const otherRoom = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    const elsewhere = await send(alice, otherRoom, text("elsewhere"));
    expectError(await receipt(alice, roomId, "m.unread", e1), 400, "M_INVALID_PARAM");
    expectError(await receipt(alice, roomId, "m.read", "$unknown"), 404, "M_NOT_FOUND");
    expectError(await receipt(alice, roomId, "m.read", elsewhere), 404, "M_NOT_FOUND");
    expectError(await receipt(alice, roomId, "m.fully_read", "$unknown"), 404, "M_NOT_FOUND");
    expectError(await receipt(eve, roomId, "m.read", e1), 403, "M_FORBIDDEN");
    expectError(await receipt(eve, roomId, "m.fully_read", e1), 403, "M_FORBIDDEN");
    expectError(await receipt(alice, "not-a-room", "m.read", e1), 400, "M_INVALID_PARAM");
    expectError(await receipt(alice, roomId, "m.read", e1, "{oops"), 400, "M_NOT_JSON");
    expect(await receiptsIn(alice, roomId)).toBeUndefined();
  });

  it("refuses receipts from members who left", async () => {
    const alice = await registerUser("rcleft");
    const bob = await registerUser("rcleaver");
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    const e1 = await send(alice, roomId, text("one"));
    expect((await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { token: bob.accessToken })).status).toBe(200);
    expectError(await receipt(bob, roomId, "m.read", e1), 403, "M_FORBIDDEN");
  });

  it("refuses receipts for events the user may not see", async () => {
    const alice = await registerUser("rchidden");
    const bob = await registerUser("rclate");
    const roomId = await createRoom(alice);
    const visibility = await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.history_visibility/`, {
      token: alice.accessToken,
      body: { history_visibility: "joined" },
    });
    expect(visibility.status).toBe(200);
    const before = await send(alice, roomId, text("before bob"));
    await join(bob, roomId);
    const after = await send(alice, roomId, text("after bob"));
    expectError(await receipt(bob, roomId, "m.read", before), 404, "M_NOT_FOUND");
    expect((await receipt(bob, roomId, "m.read", after)).status).toBe(200);
  });

  it("accepts an empty body (older clients send none)", async () => {
    const alice = await registerUser("rcempty");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    const res = await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(e1)}`, {
      token: alice.accessToken,
    });
    expect(res.status).toBe(200);
    expect(Object.keys((await receiptsIn(alice, roomId))!)).toEqual([e1]);
  });
});

describe("threaded receipts", () => {
  it("keeps one receipt per thread: unthreaded, main and each thread root", async () => {
    const alice = await registerUser("thalice");
    const roomId = await createRoom(alice);
    const root = await send(alice, roomId, text("root"));
    const reply = await send(alice, roomId, inThread(root, "in thread"));
    const reaction = await send(alice, roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: reply, key: "👍" } }, "m.reaction");
    const main = await send(alice, roomId, text("main again"));
    expect((await receipt(alice, roomId, "m.read", main, { thread_id: "main" })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", root, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", reply, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", reaction, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read.private", reply, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", root)).status).toBe(200);
    expect(await receiptsIn(alice, roomId)).toEqual({
      [main]: { "m.read": { [alice.userId]: { ts: expect.any(Number), thread_id: "main" } } },
      [reaction]: { "m.read": { [alice.userId]: { ts: expect.any(Number), thread_id: root } } },
      [reply]: { "m.read.private": { [alice.userId]: { ts: expect.any(Number), thread_id: root } } },
      [root]: { "m.read": { [alice.userId]: { ts: expect.any(Number) } } },
    });
  });

  it("refuses bad thread ids, events outside the thread, and a thread on m.fully_read", async () => {
    const alice = await registerUser("therr");
    const roomId = await createRoom(alice);
    const root = await send(alice, roomId, text("root"));
    const reply = await send(alice, roomId, inThread(root, "in thread"));
    const main = await send(alice, roomId, text("main"));
    for (const threadId of ["", "thread", 5, null]) {
      expectError(await receipt(alice, roomId, "m.read", main, { thread_id: threadId }), 400, "M_INVALID_PARAM");
    }
    expectError(await receipt(alice, roomId, "m.read", reply, { thread_id: "main" }), 400, "M_INVALID_PARAM");
    expectError(await receipt(alice, roomId, "m.read", main, { thread_id: root }), 400, "M_INVALID_PARAM");
    expectError(await receipt(alice, roomId, "m.read", reply, { thread_id: main }), 400, "M_INVALID_PARAM");
    expectError(await receipt(alice, roomId, "m.fully_read", main, { thread_id: "main" }), 400, "M_INVALID_PARAM");
    expect(await receiptsIn(alice, roomId)).toBeUndefined();
    expectError(await fullyRead(alice, roomId), 404, "M_NOT_FOUND");
  });
});

describe("read markers", () => {
  it("sets the fully read marker and both read receipts in one call", async () => {
    const alice = await registerUser("rmalice");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    const e2 = await send(alice, roomId, text("two"));
    const e3 = await send(alice, roomId, text("three"));
    const res = await readMarkers(alice, roomId, { "m.fully_read": e1, "m.read": e2, "m.read.private": e3 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await fullyRead(alice, roomId)).body).toEqual({ event_id: e1 });
    expect(await receiptsIn(alice, roomId)).toEqual({
      [e2]: { "m.read": { [alice.userId]: { ts: expect.any(Number) } } },
      [e3]: { "m.read.private": { [alice.userId]: { ts: expect.any(Number) } } },
    });
    expect((await readMarkers(alice, roomId, { "m.fully_read": e3 })).status).toBe(200);
    expect((await fullyRead(alice, roomId)).body).toEqual({ event_id: e3 });
    expect((await readMarkers(alice, roomId, {})).status).toBe(200);
  });

  it("checks every event before writing anything", async () => {
    const alice = await registerUser("rmcheck");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    expectError(await readMarkers(alice, roomId, { "m.fully_read": e1, "m.read": "$missing" }), 404, "M_NOT_FOUND");
    expectError(await fullyRead(alice, roomId), 404, "M_NOT_FOUND");
    expect(await receiptsIn(alice, roomId)).toBeUndefined();
  });

  it("refuses non-members and malformed bodies", async () => {
    const alice = await registerUser("rmerr");
    const eve = await registerUser("rmeve");
    const roomId = await createRoom(alice);
    const e1 = await send(alice, roomId, text("one"));
    expectError(await readMarkers(eve, roomId, { "m.fully_read": e1 }), 403, "M_FORBIDDEN");
    expectError(await readMarkers(alice, roomId, { "m.fully_read": 5 }), 400, "M_BAD_JSON");
    expectError(await readMarkers(alice, roomId, { "m.read": "not-an-event" }), 400, "M_BAD_JSON");
    expectError(
      await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/read_markers`, { token: alice.accessToken, rawBody: "{" }),
      400,
      "M_NOT_JSON",
    );
    expectError(await fullyRead(alice, roomId), 404, "M_NOT_FOUND");
  });
});

describe("receiptsSince", () => {
  it("returns only receipts changed after a position, for the rooms asked", async () => {
    const alice = await registerUser("rsalice");
    const bob = await registerUser("rsbob");
    const roomA = await createRoom(alice);
    const roomB = await createRoom(alice);
    await join(bob, roomA);
    const a1 = await send(alice, roomA, text("a1"));
    const a2 = await send(alice, roomA, text("a2"));
    const b1 = await send(alice, roomB, text("b1"));
    await receipt(alice, roomA, "m.read", a1);
    const middle = await currentStreamPosition(env.DB);
    await receipt(bob, roomA, "m.read", a2);
    await receipt(alice, roomB, "m.read", b1);
    const end = await currentStreamPosition(env.DB);
    expect(end).toBeGreaterThanOrEqual(middle + 2);

    const any = { ts: expect.any(Number) };
    expect(await receiptsSince(env.DB, alice.userId, [roomA, roomB], 0, end)).toEqual({
      [roomA]: { [a1]: { "m.read": { [alice.userId]: any } }, [a2]: { "m.read": { [bob.userId]: any } } },
      [roomB]: { [b1]: { "m.read": { [alice.userId]: any } } },
    });
    expect(await receiptsSince(env.DB, alice.userId, [roomA, roomB], middle, end)).toEqual({
      [roomA]: { [a2]: { "m.read": { [bob.userId]: any } } },
      [roomB]: { [b1]: { "m.read": { [alice.userId]: any } } },
    });
    expect(await receiptsSince(env.DB, alice.userId, [roomA], middle, end)).toEqual({ [roomA]: { [a2]: { "m.read": { [bob.userId]: any } } } });
    expect(await receiptsSince(env.DB, alice.userId, [roomA, roomB], 0, middle)).toEqual({ [roomA]: { [a1]: { "m.read": { [alice.userId]: any } } } });
    expect(await receiptsSince(env.DB, alice.userId, [], 0, end)).toEqual({});
  });
});
