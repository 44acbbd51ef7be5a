import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_TYPING_TIMEOUT_MS, nextTypingExpiry, setTyping, settleTypingTimeouts, typingInRooms, typingSince } from "../../src/services/typing";
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

function typing(user: TestUser, roomId: string, body: unknown, as: string = user.userId) {
  return call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(as)}`, {
    token: user.accessToken,
    body,
  });
}

describe("typing", () => {
  it("marks a user typing, then not typing", async () => {
    const alice = await registerUser("tyalice");
    const bob = await registerUser("tybob");
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    const start = await typing(alice, roomId, { typing: true, timeout: 20_000 });
    expect(start.status).toBe(200);
    expect(start.body).toEqual({});
    await typing(bob, roomId, { typing: true, timeout: 20_000 });
    expect(await typingInRooms(env.DB, [roomId])).toEqual({ [roomId]: [alice.userId, bob.userId].sort() });
    expect((await typing(alice, roomId, { typing: false })).status).toBe(200);
    expect(await typingInRooms(env.DB, [roomId])).toEqual({ [roomId]: [bob.userId] });
    await typing(bob, roomId, { typing: false });
    expect(await typingInRooms(env.DB, [roomId])).toEqual({});
  });

  it("refuses typing for someone else, outside the room, and malformed bodies", async () => {
    const alice = await registerUser("tyerr");
    const bob = await registerUser("tyother");
    const eve = await registerUser("tyeve");
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    expectError(await typing(alice, roomId, { typing: true, timeout: 1000 }, bob.userId), 403, "M_FORBIDDEN");
    expectError(await typing(eve, roomId, { typing: true, timeout: 1000 }), 403, "M_FORBIDDEN");
    expectError(await typing(alice, "!unknown:localhost", { typing: true, timeout: 1000 }), 403, "M_FORBIDDEN");
    expectError(await typing(alice, "not-a-room", { typing: true }), 400, "M_INVALID_PARAM");
    expectError(await typing(alice, roomId, {}), 400, "M_MISSING_PARAM");
    expectError(await typing(alice, roomId, { typing: "yes" }), 400, "M_BAD_JSON");
    expectError(await typing(alice, roomId, { typing: true, timeout: -1 }), 400, "M_BAD_JSON");
    expectError(await typing(alice, roomId, { typing: true, timeout: "soon" }), 400, "M_BAD_JSON");
    expectError(
      await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, {
        token: alice.accessToken,
        rawBody: "{typing",
      }),
      400,
      "M_NOT_JSON",
    );
    expect(await typingInRooms(env.DB, [roomId])).toEqual({});
  });

  it("refuses members who left", async () => {
    const alice = await registerUser("tyowner");
    const bob = await registerUser("tyleaver");
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    expect((await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { token: bob.accessToken })).status).toBe(200);
    expectError(await typing(bob, roomId, { typing: true, timeout: 1000 }), 403, "M_FORBIDDEN");
  });

  it("expires by itself, and caps the timeout", async () => {
    const alice = await registerUser("tyexpire");
    const roomId = await createRoom(alice);
    const before = Date.now();
    await typing(alice, roomId, { typing: true, timeout: 5_000 });
    const after = Date.now();
    expect(await typingInRooms(env.DB, [roomId], after + 4_000)).toEqual({ [roomId]: [alice.userId] });
    expect(await typingInRooms(env.DB, [roomId], after + 5_000)).toEqual({});
    const next = await nextTypingExpiry(env.DB, [roomId], after);
    expect(next).toBeGreaterThanOrEqual(before + 5_000);
    expect(next).toBeLessThanOrEqual(after + 5_000);

    await typing(alice, roomId, { typing: true, timeout: 10 * 60_000 });
    const capped = Date.now();
    expect(await typingInRooms(env.DB, [roomId], capped)).toEqual({ [roomId]: [alice.userId] });
    expect(await typingInRooms(env.DB, [roomId], capped + MAX_TYPING_TIMEOUT_MS + 1)).toEqual({});

    // Without a timeout, typing: true uses the default (30 s), never "forever".
    await typing(alice, roomId, { typing: true });
    expect(await typingInRooms(env.DB, [roomId], Date.now() + 31_000)).toEqual({});
  });
});

describe("typingSince", () => {
  it("reports rooms whose typers changed after a position, with who is typing now", async () => {
    const alice = await registerUser("tsalice");
    const roomA = await createRoom(alice);
    const roomB = await createRoom(alice);
    const t0 = Date.now();
    const started = await setTyping(env.DB, alice.userId, roomA, alice.userId, true, 10_000, t0);
    expect(started).not.toBeNull();
    const afterStart = await currentStreamPosition(env.DB);
    expect(await typingSince(env.DB, [roomA, roomB], 0, afterStart, t0)).toEqual({ [roomA]: [alice.userId] });
    expect(await typingSince(env.DB, [roomA, roomB], afterStart, afterStart, t0)).toEqual({});

    // A refresh while typing changes nothing a sync would send.
    expect(await setTyping(env.DB, alice.userId, roomA, alice.userId, true, 10_000, t0 + 1_000)).toBeNull();
    expect(await typingSince(env.DB, [roomA, roomB], afterStart, await currentStreamPosition(env.DB), t0 + 1_000)).toEqual({});

    await setTyping(env.DB, alice.userId, roomB, alice.userId, true, 10_000, t0 + 2_000);
    const stopped = await setTyping(env.DB, alice.userId, roomA, alice.userId, false, undefined, t0 + 3_000);
    expect(stopped).toBeGreaterThan(afterStart);
    expect(await setTyping(env.DB, alice.userId, roomA, alice.userId, false, undefined, t0 + 3_000)).toBeNull();
    const afterStop = await currentStreamPosition(env.DB);
    expect(await typingSince(env.DB, [roomA, roomB], afterStart, afterStop, t0 + 3_000)).toEqual({ [roomA]: [], [roomB]: [alice.userId] });
    expect(await typingSince(env.DB, [roomB], afterStart, afterStop, t0 + 3_000)).toEqual({ [roomB]: [alice.userId] });
    expect(await typingSince(env.DB, [], 0, afterStop, t0 + 3_000)).toEqual({});
  });

  it("gives a lapsed timeout a new position, so an incremental sync sees the user stop", async () => {
    const alice = await registerUser("tslapse");
    const roomId = await createRoom(alice);
    const t0 = Date.now();
    await setTyping(env.DB, alice.userId, roomId, alice.userId, true, 1_000, t0);
    const typingPosition = await currentStreamPosition(env.DB);
    expect(await typingSince(env.DB, [roomId], typingPosition, typingPosition, t0 + 500)).toEqual({});

    const lapsedAt = t0 + 1_500;
    await settleTypingTimeouts(env.DB, lapsedAt);
    const afterLapse = await currentStreamPosition(env.DB);
    expect(afterLapse).toBeGreaterThan(typingPosition);
    expect(await typingSince(env.DB, [roomId], typingPosition, afterLapse, lapsedAt)).toEqual({ [roomId]: [] });
    expect(await nextTypingExpiry(env.DB, [roomId], lapsedAt)).toBeNull();

    // Settling again takes no new position: the lapse is reported once.
    await settleTypingTimeouts(env.DB, lapsedAt);
    expect(await typingSince(env.DB, [roomId], afterLapse, await currentStreamPosition(env.DB), lapsedAt)).toEqual({});
  });
});
