import { describe, expect, it } from "vitest";
import { call, expectError, registerUser } from "../helpers";
import { createRoom, sendMessage as send } from "./room-helpers";

describe("rooms", () => {
  it("creates a v12 room whose id is the create event's hash, with the preset's state", async () => {
    const alice = await registerUser("ralice");
    const roomId = await createRoom(alice, { name: "Test room", topic: "About tests" });
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    const state = await call<Record<string, unknown>[]>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`, { token: alice.accessToken });
    expect(state.status).toBe(200);
    const types = state.body.map((e) => e["type"]);
    expect(types).toEqual(
      expect.arrayContaining(["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.name", "m.room.topic"]),
    );
    const create = state.body.find((e) => e["type"] === "m.room.create")!;
    expect(`!${(create["event_id"] as string).slice(1)}`).toBe(roomId);
    const name = await call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { token: alice.accessToken });
    expect(name.body).toEqual({ name: "Test room" });
  });

  it("sends messages idempotently per transaction id and pages through them", async () => {
    const alice = await registerUser("msg");
    const roomId = await createRoom(alice);
    const first = await send(alice, roomId, "hello", "txn1");
    const retry = await send(alice, roomId, "hello", "txn1");
    expect(first.status).toBe(200);
    expect(retry.body["event_id"]).toBe(first.body["event_id"]);
    for (let i = 0; i < 5; i++) await send(alice, roomId, `m${i}`);
    const page = await call<{ chunk: { content: { body?: string } }[]; end?: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=3`,
      { token: alice.accessToken },
    );
    expect(page.body.chunk.map((e) => e.content.body)).toEqual(["m4", "m3", "m2"]);
    const next = await call<{ chunk: { content: { body?: string } }[] }>(
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=4&from=${page.body.end}`,
      { token: alice.accessToken },
    );
    expect(next.body.chunk.map((e) => e.content.body)).toEqual(["m1", "m0", "hello", undefined]);
  });

  it("refuses non-members and unknown rooms", async () => {
    const alice = await registerUser("owner");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    expectError(await send(eve, roomId, "intrusion"), 403, "M_FORBIDDEN");
    expectError(await call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b`, { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await send(alice, "!nope:localhost", "x"), 404, "M_NOT_FOUND");
    expectError(await send(alice, "not-a-room", "x"), 400, "M_INVALID_PARAM");
  });

  it("invites, joins, leaves and bans", async () => {
    const alice = await registerUser("mod");
    const bob = await registerUser("member");
    const roomId = await createRoom(alice);
    const r = encodeURIComponent(roomId);
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r}/join`, { token: bob.accessToken }), 403, "M_FORBIDDEN");
    expect((await call("POST", `/_matrix/client/v3/rooms/${r}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/join/${r}`, { token: bob.accessToken })).body).toEqual({ room_id: roomId });
    expect((await send(bob, roomId, "hi")).status).toBe(200);
    const joined = await call<{ joined: Record<string, unknown> }>("GET", `/_matrix/client/v3/rooms/${r}/joined_members`, { token: bob.accessToken });
    expect(Object.keys(joined.body.joined).sort()).toEqual([alice.userId, bob.userId].sort());
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r}/kick`, { token: bob.accessToken, body: { user_id: alice.userId } }), 403, "M_FORBIDDEN");
    expect((await call("POST", `/_matrix/client/v3/rooms/${r}/ban`, { token: alice.accessToken, body: { user_id: bob.userId, reason: "spam" } })).status).toBe(200);
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r}/join`, { token: bob.accessToken }), 403, "M_FORBIDDEN");
    expect((await call("GET", "/_matrix/client/v3/joined_rooms", { token: bob.accessToken })).body).toEqual({ joined_rooms: [] });
  });
});
