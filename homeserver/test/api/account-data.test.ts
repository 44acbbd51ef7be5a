import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { accountDataSince, ignoredUsers } from "../../src/services/account-data";
import { currentStreamPosition } from "../../src/storage/stream-positions";
import { type TestUser, call, expectError, registerUser } from "../helpers";

const ROOM = "!someroom:localhost";

function globalPath(user: TestUser | string, type: string): string {
  const userId = typeof user === "string" ? user : user.userId;
  return `/_matrix/client/v3/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`;
}

function roomPath(user: TestUser | string, roomId: string, type: string): string {
  const userId = typeof user === "string" ? user : user.userId;
  return `/_matrix/client/v3/user/${encodeURIComponent(userId)}/rooms/${encodeURIComponent(roomId)}/account_data/${encodeURIComponent(type)}`;
}

function tagsPath(user: TestUser, roomId: string, tag?: string): string {
  const base = `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/rooms/${encodeURIComponent(roomId)}/tags`;
  return tag === undefined ? base : `${base}/${encodeURIComponent(tag)}`;
}

describe("global account data", () => {
  it("stores, replaces and returns content; 404 when unset", async () => {
    const alice = await registerUser("adglobal");
    expectError(await call("GET", globalPath(alice, "org.example.config"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    const put = await call("PUT", globalPath(alice, "org.example.config"), { token: alice.accessToken, body: { theme: "dark" } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    expect((await call("GET", globalPath(alice, "org.example.config"), { token: alice.accessToken })).body).toEqual({ theme: "dark" });
    await call("PUT", globalPath(alice, "org.example.config"), { token: alice.accessToken, body: { theme: "light", nested: { a: [1] } } });
    expect((await call("GET", globalPath(alice, "org.example.config"), { token: alice.accessToken })).body).toEqual({
      theme: "light",
      nested: { a: [1] },
    });
  });

  it("is private to its owner", async () => {
    const alice = await registerUser("adowner");
    const eve = await registerUser("adeve");
    await call("PUT", globalPath(alice, "org.example.secret"), { token: alice.accessToken, body: { x: 1 } });
    expectError(await call("GET", globalPath(alice, "org.example.secret"), { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", globalPath(alice, "org.example.secret"), { token: eve.accessToken, body: { x: 2 } }), 403, "M_FORBIDDEN");
    expect((await call("GET", globalPath(alice, "org.example.secret"), { token: alice.accessToken })).body).toEqual({ x: 1 });
    expectError(await call("GET", globalPath(alice, "org.example.secret")), 401, "M_MISSING_TOKEN");
  });

  it("refuses bodies that are not JSON objects", async () => {
    const alice = await registerUser("adbody");
    const path = globalPath(alice, "org.example.body");
    expectError(await call("PUT", path, { token: alice.accessToken, rawBody: "{not json" }), 400, "M_NOT_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, body: ["a", "list"] }), 400, "M_NOT_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, body: "a string" }), 400, "M_NOT_JSON");
    expectError(await call("GET", path, { token: alice.accessToken }), 404, "M_NOT_FOUND");
  });

  it("refuses types over 255 bytes and accepts 255", async () => {
    const alice = await registerUser("adsize");
    const longest = `org.example.${"x".repeat(255 - "org.example.".length)}`;
    const tooLong = `${longest}y`;
    expectError(await call("PUT", globalPath(alice, tooLong), { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", globalPath(alice, tooLong), { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    // Multi-byte characters count as bytes: 128 two-byte characters are 256 bytes.
    expectError(await call("PUT", globalPath(alice, "é".repeat(128)), { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
    expect((await call("PUT", globalPath(alice, longest), { token: alice.accessToken, body: { ok: true } })).status).toBe(200);
    expect((await call("GET", globalPath(alice, longest), { token: alice.accessToken })).body).toEqual({ ok: true });
  });

  it("refuses server-managed types with 405 M_BAD_JSON, globally and per room", async () => {
    const alice = await registerUser("admanaged");
    for (const type of ["m.fully_read", "m.push_rules"]) {
      expectError(await call("PUT", globalPath(alice, type), { token: alice.accessToken, body: { event_id: "$x" } }), 405, "M_BAD_JSON");
      expectError(await call("PUT", roomPath(alice, ROOM, type), { token: alice.accessToken, body: { event_id: "$x" } }), 405, "M_BAD_JSON");
      expectError(await call("GET", roomPath(alice, ROOM, type), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    }
  });

  it("validates m.ignored_user_list and exposes the ignored users", async () => {
    const alice = await registerUser("adignore");
    const path = globalPath(alice, "m.ignored_user_list");
    expectError(await call("PUT", path, { token: alice.accessToken, body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { ignored_users: ["@bob:localhost"] } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { ignored_users: { "not-a-user": {} } } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { ignored_users: { "@bob:localhost": true } } }), 400, "M_BAD_JSON");
    expect(await ignoredUsers(env.DB, alice.userId)).toEqual(new Set());
    const ok = await call("PUT", path, { token: alice.accessToken, body: { ignored_users: { "@bob:localhost": {}, "@carol:example.org": {} } } });
    expect(ok.status).toBe(200);
    expect(await ignoredUsers(env.DB, alice.userId)).toEqual(new Set(["@bob:localhost", "@carol:example.org"]));
  });
});

describe("room account data", () => {
  it("is separate from global account data and per room", async () => {
    const alice = await registerUser("adroom");
    const other = "!otherroom:localhost";
    expect((await call("PUT", roomPath(alice, ROOM, "org.example.r"), { token: alice.accessToken, body: { in: "room" } })).status).toBe(200);
    expect((await call("GET", roomPath(alice, ROOM, "org.example.r"), { token: alice.accessToken })).body).toEqual({ in: "room" });
    expectError(await call("GET", globalPath(alice, "org.example.r"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("GET", roomPath(alice, other, "org.example.r"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    await call("PUT", globalPath(alice, "org.example.g"), { token: alice.accessToken, body: { in: "global" } });
    expectError(await call("GET", roomPath(alice, ROOM, "org.example.g"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
  });

  it("refuses other users, bad room ids, bad bodies and huge types", async () => {
    const alice = await registerUser("adroomerr");
    const eve = await registerUser("adroomeve");
    expectError(await call("PUT", roomPath(alice, ROOM, "org.example.r"), { token: eve.accessToken, body: {} }), 403, "M_FORBIDDEN");
    expectError(await call("GET", roomPath(alice, ROOM, "org.example.r"), { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", roomPath(alice, "not-a-room", "org.example.r"), { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", roomPath(alice, "not-a-room", "org.example.r"), { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", roomPath(alice, ROOM, "org.example.r"), { token: alice.accessToken, rawBody: "[1" }), 400, "M_NOT_JSON");
    expectError(await call("PUT", roomPath(alice, ROOM, "org.example.r"), { token: alice.accessToken, body: [1] }), 400, "M_NOT_JSON");
    expectError(await call("PUT", roomPath(alice, ROOM, "x".repeat(256)), { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
  });
});

describe("tags", () => {
  it("adds, lists, replaces and removes tags, stored as m.tag room account data", async () => {
    const alice = await registerUser("tags");
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({ tags: {} });
    expect((await call("PUT", tagsPath(alice, ROOM, "m.favourite"), { token: alice.accessToken, body: { order: 0.25 } })).status).toBe(200);
    expect((await call("PUT", tagsPath(alice, ROOM, "u.Work"), { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({
      tags: { "m.favourite": { order: 0.25 }, "u.Work": {} },
    });
    await call("PUT", tagsPath(alice, ROOM, "m.favourite"), { token: alice.accessToken, body: { order: 1 } });
    expect((await call("GET", roomPath(alice, ROOM, "m.tag"), { token: alice.accessToken })).body).toEqual({
      tags: { "m.favourite": { order: 1 }, "u.Work": {} },
    });
    const removed = await call("DELETE", tagsPath(alice, ROOM, "m.favourite"), { token: alice.accessToken });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({});
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { "u.Work": {} } });
    expect((await call("DELETE", tagsPath(alice, ROOM, "u.Never"), { token: alice.accessToken })).status).toBe(200);
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { "u.Work": {} } });
  });

  it("accepts order 0 and refuses orders outside [0, 1] or not numbers", async () => {
    const alice = await registerUser("tagorder");
    expect((await call("PUT", tagsPath(alice, ROOM, "u.zero"), { token: alice.accessToken, body: { order: 0 } })).status).toBe(200);
    for (const order of [1.5, -0.1, "0.5", null]) {
      expectError(await call("PUT", tagsPath(alice, ROOM, "u.bad"), { token: alice.accessToken, body: { order } }), 400, "M_BAD_JSON");
    }
    expectError(await call("PUT", tagsPath(alice, ROOM, "u.bad"), { token: alice.accessToken, rawBody: "nope" }), 400, "M_NOT_JSON");
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { "u.zero": { order: 0 } } });
  });

  it("refuses other users, bad room ids and tag names over 255 bytes", async () => {
    const alice = await registerUser("tagerr");
    const eve = await registerUser("tageve");
    await call("PUT", tagsPath(alice, ROOM, "u.mine"), { token: alice.accessToken, body: {} });
    expectError(await call("GET", tagsPath(alice, ROOM), { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", tagsPath(alice, ROOM, "u.eve"), { token: eve.accessToken, body: {} }), 403, "M_FORBIDDEN");
    expectError(await call("DELETE", tagsPath(alice, ROOM, "u.mine"), { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("GET", tagsPath(alice, "bad-room"), { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", tagsPath(alice, ROOM, `u.${"t".repeat(254)}`), { token: alice.accessToken, body: {} }), 400, "M_INVALID_PARAM");
    expect((await call("GET", tagsPath(alice, ROOM), { token: alice.accessToken })).body).toEqual({ tags: { "u.mine": {} } });
  });
});

describe("accountDataSince", () => {
  it("returns what changed after a position, latest content only, grouped as /sync sends it", async () => {
    const alice = await registerUser("adsince");
    const t = { token: alice.accessToken };
    const start = await currentStreamPosition(env.DB);
    await call("PUT", globalPath(alice, "org.example.a"), { ...t, body: { v: 1 } });
    await call("PUT", roomPath(alice, ROOM, "org.example.b"), { ...t, body: { v: 1 } });
    const middle = await currentStreamPosition(env.DB);
    expect(middle).toBeGreaterThanOrEqual(start + 2);
    await call("PUT", globalPath(alice, "org.example.c"), { ...t, body: { v: 1 } });
    await call("PUT", globalPath(alice, "org.example.a"), { ...t, body: { v: 2 } });
    await call("PUT", tagsPath(alice, ROOM, "u.x"), { ...t, body: {} });
    const end = await currentStreamPosition(env.DB);

    expect(await accountDataSince(env.DB, alice.userId, 0, end)).toEqual({
      global: [
        { type: "org.example.c", content: { v: 1 } },
        { type: "org.example.a", content: { v: 2 } },
      ],
      rooms: {
        [ROOM]: [
          { type: "org.example.b", content: { v: 1 } },
          { type: "m.tag", content: { tags: { "u.x": {} } } },
        ],
      },
    });
    expect(await accountDataSince(env.DB, alice.userId, middle, end)).toEqual({
      global: [
        { type: "org.example.c", content: { v: 1 } },
        { type: "org.example.a", content: { v: 2 } },
      ],
      rooms: { [ROOM]: [{ type: "m.tag", content: { tags: { "u.x": {} } } }] },
    });
    expect(await accountDataSince(env.DB, alice.userId, start, middle)).toEqual({
      global: [],
      rooms: { [ROOM]: [{ type: "org.example.b", content: { v: 1 } }] },
    });
    expect(await accountDataSince(env.DB, alice.userId, end, end)).toEqual({ global: [], rooms: {} });
  });
});
