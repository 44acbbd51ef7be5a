import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expectError, registerUser } from "../helpers";
import { type ClientEventJson, createRoom, joinUser, messagesOf, r, sendMessage, sendState } from "./room-helpers";

describe("room server under concurrency", () => {
  it("keeps one linear history for 50 concurrent sends from 5 users", async () => {
    const users = await Promise.all([0, 1, 2, 3, 4].map((i) => registerUser(`conc${i}`)));
    const roomId = await createRoom(users[0]!, { preset: "public_chat" });
    for (const u of users.slice(1)) {
      expect((await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: u.accessToken })).status).toBe(200);
    }
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sendMessage(users[i % 5]!, roomId, `msg ${i}`)),
    );
    expect(results.every((res) => res.status === 200)).toBe(true);
    const ids = results.map((res) => res.body["event_id"] as string);
    expect(new Set(ids).size).toBe(50);

    const rows = await env.DB.prepare("SELECT event_id, stream_ordering, pdu FROM events WHERE room_id = ? ORDER BY stream_ordering")
      .bind(roomId)
      .all<{ event_id: string; stream_ordering: number; pdu: string }>();
    const events = rows.results;
    for (let i = 1; i < events.length; i++) {
      const pdu = JSON.parse(events[i]!.pdu) as { prev_events: string[]; depth: number };
      // Linear DAG: every event points at exactly the one before it.
      expect(pdu.prev_events).toEqual([events[i - 1]!.event_id]);
      expect(pdu.depth).toBe(i + 1);
      expect(events[i]!.stream_ordering).toBeGreaterThan(events[i - 1]!.stream_ordering);
    }
    const messageIds = events.filter((e) => ids.includes(e.event_id)).map((e) => e.event_id);
    // Every member pages back the same 50 messages in the same order.
    const views = await Promise.all(users.map((u) => messagesOf(u, roomId, "dir=f&limit=200")));
    for (const view of views) {
      expect(view.body.chunk.filter((e) => e.type === "m.room.message").map((e) => e.event_id)).toEqual(messageIds);
    }
  });
});

describe("event validation", () => {
  it("refuses oversized events, state keys and wrong state content", async () => {
    const alice = await registerUser("val");
    const roomId = await createRoom(alice);
    expectError(await sendState(alice, roomId, "m.custom", "k".repeat(256), {}), 413, "M_TOO_LARGE");
    expectError(await sendMessage(alice, roomId, "x".repeat(70_000)), 413, "M_TOO_LARGE");
    expectError(await sendState(alice, roomId, "m.room.name", "", { name: 5 }), 400, "M_BAD_JSON");
    expectError(await sendState(alice, roomId, "m.room.join_rules", "", { join_rule: "anyone" }), 400, "M_BAD_JSON");
    expectError(await sendState(alice, roomId, "m.room.power_levels", "", { users_default: 1.5 }), 400, "M_BAD_JSON");
    expectError(await sendState(alice, roomId, "m.room.canonical_alias", "", { alias: "#nowhere:localhost:8787" }), 400, "M_BAD_ALIAS");
    expectError(await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/m.room.message/t1`, { token: alice.accessToken, rawBody: "{" }), 400, "M_NOT_JSON");
    expectError(await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { room_version: "1" } }), 400, "M_UNSUPPORTED_ROOM_VERSION");
    expectError(await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { invite: ["not-a-user"] } }), 400, "M_INVALID_PARAM");
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE room_id = ?").bind(roomId).first<number>("n");
    const state = await call<ClientEventJson[]>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state`, { token: alice.accessToken });
    expect(state.body.some((e) => e.type === "m.room.name")).toBe(false);
    expect(count).toBe(6);
  });

  it("creates rooms of versions 10 and 11 with server-scoped ids", async () => {
    const alice = await registerUser("ver");
    for (const version of ["10", "11"]) {
      const roomId = await createRoom(alice, { room_version: version });
      expect(roomId).toMatch(/^![a-z0-9]{18}:localhost:8787$/);
      expect((await sendMessage(alice, roomId, "hi")).status).toBe(200);
      const create = await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.create`, { token: alice.accessToken });
      expect(create.body["room_version"]).toBe(version);
    }
  });
});

describe("power and visibility", () => {
  it("refuses actions without power and leaves the room unchanged", async () => {
    const alice = await registerUser("pw");
    const bob = await registerUser("pwb");
    const roomId = await createRoom(alice, { name: "Original" });
    await joinUser(alice, bob, roomId);
    expectError(await sendState(bob, roomId, "m.room.name", "", { name: "Hijacked" }), 403, "M_FORBIDDEN");
    expect((await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.name`, { token: bob.accessToken })).body).toEqual({ name: "Original" });
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/ban`, { token: bob.accessToken, body: { user_id: alice.userId } }), 403, "M_FORBIDDEN");
  });

  it("hides joined-visibility history from non-members and from before a join", async () => {
    const alice = await registerUser("vis");
    const bob = await registerUser("visb");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    expect((await sendState(alice, roomId, "m.room.history_visibility", "", { history_visibility: "joined" })).status).toBe(200);
    const secret = await sendMessage(alice, roomId, "before bob");
    expectError(await messagesOf(bob, roomId), 403, "M_FORBIDDEN");
    expectError(await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/event/${secret.body["event_id"]}`, { token: bob.accessToken }), 403, "M_FORBIDDEN");
    expect((await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: bob.accessToken })).status).toBe(200);
    await sendMessage(alice, roomId, "after bob");
    const seen = (await messagesOf(bob, roomId)).body.chunk.filter((e) => e.type === "m.room.message").map((e) => e.content["body"]);
    expect(seen).toEqual(["after bob"]);
    expectError(await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/event/${secret.body["event_id"]}`, { token: bob.accessToken }), 404, "M_NOT_FOUND");
  });

  it("shows shared history to members who join later", async () => {
    const alice = await registerUser("shared");
    const bob = await registerUser("sharedb");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await sendMessage(alice, roomId, "old news");
    expect((await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: bob.accessToken })).status).toBe(200);
    const bodies = (await messagesOf(bob, roomId)).body.chunk.map((e) => e.content["body"]);
    expect(bodies).toContain("old news");
  });
});

describe("redaction", () => {
  it("strips content, records redacted_because, and enforces the redact level", async () => {
    const alice = await registerUser("red");
    const bob = await registerUser("redb");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    const aliceMsg = await sendMessage(alice, roomId, "secret");
    const bobMsg = await sendMessage(bob, roomId, "oops");
    const redactPath = (id: unknown, txn: string) => `/_matrix/client/v3/rooms/${r(roomId)}/redact/${id}/${txn}`;
    expectError(await call("PUT", redactPath(aliceMsg.body["event_id"], "t1"), { token: bob.accessToken, body: {} }), 403, "M_FORBIDDEN");
    const own = await call("PUT", redactPath(bobMsg.body["event_id"], "t2"), { token: bob.accessToken, body: { reason: "typo" } });
    expect(own.status).toBe(200);
    const retry = await call("PUT", redactPath(bobMsg.body["event_id"], "t2"), { token: bob.accessToken, body: { reason: "typo" } });
    expect(retry.body["event_id"]).toBe(own.body["event_id"]);
    expect((await call("PUT", redactPath(aliceMsg.body["event_id"], "t3"), { token: alice.accessToken, body: {} })).status).toBe(200);
    const event = await call<ClientEventJson>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/event/${bobMsg.body["event_id"]}`, { token: alice.accessToken });
    expect(event.body.content).toEqual({});
    const because = event.body.unsigned?.["redacted_because"] as ClientEventJson;
    expect(because.event_id).toBe(own.body["event_id"]);
    expect(because.content["reason"]).toBe("typo");
    expectError(await call("PUT", redactPath("$unknown", "t4"), { token: alice.accessToken, body: {} }), 404, "M_NOT_FOUND");
  });
});

describe("membership edge cases", () => {
  it("supports knocking, forgetting and member filters", async () => {
    const alice = await registerUser("knock");
    const bob = await registerUser("knockb");
    const roomId = await createRoom(alice);
    expect((await sendState(alice, roomId, "m.room.join_rules", "", { join_rule: "knock" })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/knock/${r(roomId)}`, { token: bob.accessToken, body: { reason: "let me in" } })).status).toBe(200);
    const knocking = await call<{ chunk: ClientEventJson[] }>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/members?membership=knock`, { token: alice.accessToken });
    expect(knocking.body.chunk.map((e) => e.state_key)).toEqual([bob.userId]);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: alice.accessToken, body: { user_id: bob.userId } })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/join`, { token: bob.accessToken })).status).toBe(200);
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/forget`, { token: bob.accessToken }), 400, "M_UNKNOWN");
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/leave`, { token: bob.accessToken })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/forget`, { token: bob.accessToken })).status).toBe(200);
    const joined = await call<{ chunk: ClientEventJson[] }>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/members?not_membership=leave`, { token: alice.accessToken });
    expect(joined.body.chunk.map((e) => e.state_key)).toEqual([alice.userId]);
  });

  it("updates member events when the profile changes", async () => {
    const alice = await registerUser("profprop");
    const roomId = await createRoom(alice);
    const path = `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`;
    expect((await call("PUT", path, { token: alice.accessToken, body: { displayname: "Alice Renamed" } })).status).toBe(200);
    const member = await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.member/${encodeURIComponent(alice.userId)}`, { token: alice.accessToken });
    expect(member.body).toMatchObject({ membership: "join", displayname: "Alice Renamed" });
  });
});

describe("context and upgrades", () => {
  it("returns an event's context", async () => {
    const alice = await registerUser("ctx");
    const roomId = await createRoom(alice);
    const sent = [];
    for (let i = 0; i < 7; i++) sent.push((await sendMessage(alice, roomId, `c${i}`)).body["event_id"]);
    const ctx = await call<{ event: ClientEventJson; events_before: ClientEventJson[]; events_after: ClientEventJson[]; state: ClientEventJson[]; start: string; end: string }>(
      "GET",
      `/_matrix/client/v3/rooms/${r(roomId)}/context/${sent[3]}?limit=4`,
      { token: alice.accessToken },
    );
    expect(ctx.body.event.content["body"]).toBe("c3");
    expect(ctx.body.events_before.map((e) => e.content["body"])).toEqual(["c2", "c1"]);
    expect(ctx.body.events_after.map((e) => e.content["body"])).toEqual(["c4", "c5"]);
    expect(ctx.body.state.some((e) => e.type === "m.room.create")).toBe(true);
    const back = await messagesOf(alice, roomId, `dir=b&limit=1&from=${ctx.body.start}`);
    expect(back.body.chunk[0]!.content["body"]).toBe("c0");
  });

  it("upgrades a room with a tombstone and a predecessor", async () => {
    const alice = await registerUser("upg");
    const bob = await registerUser("upgb");
    const roomId = await createRoom(alice, { name: "Old room", room_version: "11" });
    await joinUser(alice, bob, roomId);
    expectError(await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/upgrade`, { token: bob.accessToken, body: { new_version: "12" } }), 403, "M_FORBIDDEN");
    const res = await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/upgrade`, { token: alice.accessToken, body: { new_version: "12" } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const newRoom = res.body["replacement_room"] as string;
    const tombstone = await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.tombstone`, { token: alice.accessToken });
    expect(tombstone.body["replacement_room"]).toBe(newRoom);
    const create = await call("GET", `/_matrix/client/v3/rooms/${r(newRoom)}/state/m.room.create`, { token: alice.accessToken });
    expect(create.body["predecessor"]).toEqual({ room_id: roomId });
    expect((await call("GET", `/_matrix/client/v3/rooms/${r(newRoom)}/state/m.room.name`, { token: alice.accessToken })).body).toEqual({ name: "Old room" });
    expectError(await sendMessage(bob, roomId, "still here?"), 403, "M_FORBIDDEN");
  });
});

describe("restricted rooms", () => {
  it("lets members of an allowed room join, and nobody else", async () => {
    const alice = await registerUser("restr");
    const bob = await registerUser("restrb");
    const eve = await registerUser("restre");
    const space = await createRoom(alice, { preset: "public_chat" });
    const roomId = await createRoom(alice, {
      initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    expect((await call("POST", `/_matrix/client/v3/join/${r(space)}`, { token: bob.accessToken })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: bob.accessToken })).status).toBe(200);
    const member = await call("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`, { token: bob.accessToken });
    expect(member.body).toMatchObject({ membership: "join", join_authorised_via_users_server: alice.userId });
    expectError(await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: eve.accessToken }), 403, "M_FORBIDDEN");
  });
});

describe("regressions found by the fuzz test", () => {
  it("answers content without a canonical JSON form with M_BAD_JSON, not a 500", async () => {
    const alice = await registerUser("fuzzreg");
    const roomId = await createRoom(alice);
    // Seed 20261126 #2111: a lone surrogate; #551: an integer beyond 2^53.
    const surrogate = await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/m.custom/t1`, { token: alice.accessToken, rawBody: '{"x":"\\ud800"}' });
    expectError(surrogate, 400, "M_BAD_JSON");
    expectError(await sendState(alice, roomId, "m.custom", "", { n: 9007199254740992 }), 400, "M_BAD_JSON");
    const create = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { creation_content: { n: 2 ** 60 } } });
    expectError(create, 400, "M_BAD_JSON");
  });
});

describe("room ids", () => {
  it("gives identical rooms created in the same millisecond distinct v12 ids", async () => {
    const alice = await registerUser("twins");
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { name: "twin" } })),
    );
    expect(results.map((res) => res.status)).toEqual(Array(8).fill(200));
    expect(new Set(results.map((res) => res.body["room_id"])).size).toBe(8);
  });
});
