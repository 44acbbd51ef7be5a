import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser, uniqueName } from "../helpers";

const SERVER = env.SERVER_NAME;
const alias = (localpart: string) => `#${localpart}:${SERVER}`;
const aliasPath = (a: string) => `/_matrix/client/v3/directory/room/${encodeURIComponent(a)}`;
const listPath = (roomId: string) => `/_matrix/client/v3/directory/list/room/${encodeURIComponent(roomId)}`;

async function createRoom(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["room_id"] as string;
}

async function join(user: TestUser, roomId: string): Promise<void> {
  const res = await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function putState(user: TestUser, roomId: string, type: string, content: Record<string, unknown>) {
  const res = await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/`, { token: user.accessToken, body: content });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

// A type alias, not an interface, so that it is assignable to the Record<string, unknown> of expectError.
type PublicRoomsPage = {
  chunk: Record<string, unknown>[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
};

async function searchPublicRooms(user: TestUser, body: Record<string, unknown>) {
  return call<PublicRoomsPage>("POST", "/_matrix/client/v3/publicRooms", { token: user.accessToken, body });
}

describe("room aliases", () => {
  it("creates an alias that anyone can resolve, and lists it for members", async () => {
    const alice = await registerUser("alias");
    const roomId = await createRoom(alice);
    const a = alias(uniqueName("room"));
    expect((await call("PUT", aliasPath(a), { token: alice.accessToken, body: { room_id: roomId } })).body).toEqual({});
    const resolved = await call("GET", aliasPath(a));
    expect(resolved.status).toBe(200);
    expect(resolved.body).toEqual({ room_id: roomId, servers: [SERVER] });
    const listed = await call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/aliases`, { token: alice.accessToken });
    expect(listed.body).toEqual({ aliases: [a] });
  });

  it("refuses taken, foreign, invalid and unknown aliases", async () => {
    const alice = await registerUser("alias");
    const roomId = await createRoom(alice);
    const otherRoom = await createRoom(alice);
    const a = alias(uniqueName("taken"));
    expect((await call("PUT", aliasPath(a), { token: alice.accessToken, body: { room_id: roomId } })).status).toBe(200);
    expectError(await call("PUT", aliasPath(a), { token: alice.accessToken, body: { room_id: otherRoom } }), 409, "M_UNKNOWN");
    expect((await call("GET", aliasPath(a))).body["room_id"]).toBe(roomId);

    const foreign = `#${uniqueName("far")}:elsewhere.example`;
    expectError(await call("PUT", aliasPath(foreign), { token: alice.accessToken, body: { room_id: roomId } }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", aliasPath(foreign)), 404, "M_NOT_FOUND");
    expectError(await call("PUT", aliasPath("no-sigil"), { token: alice.accessToken, body: { room_id: roomId } }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", aliasPath("#nocolon")), 400, "M_INVALID_PARAM");
    expectError(await call("GET", aliasPath(alias(uniqueName("missing")))), 404, "M_NOT_FOUND");
    expectError(await call("DELETE", aliasPath(alias(uniqueName("missing"))), { token: alice.accessToken }), 404, "M_NOT_FOUND");
  });

  it("checks the body, the room and the requester when creating", async () => {
    const alice = await registerUser("alias");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    const path = aliasPath(alias(uniqueName("body")));
    expectError(await call("PUT", path, { body: { room_id: roomId } }), 401, "M_MISSING_TOKEN");
    expectError(await call("PUT", path, { token: alice.accessToken, body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { room_id: "nope" } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, rawBody: "{not json" }), 400, "M_NOT_JSON");
    expectError(await call("PUT", path, { token: alice.accessToken, body: { room_id: `!unknown:${SERVER}` } }), 404, "M_NOT_FOUND");
    expectError(await call("PUT", path, { token: eve.accessToken, body: { room_id: roomId } }), 403, "M_FORBIDDEN");
    expectError(await call("GET", path), 404, "M_NOT_FOUND");
  });

  it("lets the alias creator or a room moderator delete it, nobody else", async () => {
    const alice = await registerUser("mod");
    const bob = await registerUser("member");
    const carol = await registerUser("member");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    await join(carol, roomId);
    const bobs = alias(uniqueName("bobs"));
    const alices = alias(uniqueName("alices"));
    expect((await call("PUT", aliasPath(bobs), { token: bob.accessToken, body: { room_id: roomId } })).status).toBe(200);
    expect((await call("PUT", aliasPath(alices), { token: alice.accessToken, body: { room_id: roomId } })).status).toBe(200);

    expectError(await call("DELETE", aliasPath(bobs), { token: carol.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("DELETE", aliasPath(alices), { token: bob.accessToken }), 403, "M_FORBIDDEN");
    expect((await call("GET", aliasPath(alices))).status).toBe(200);

    expect((await call("DELETE", aliasPath(bobs), { token: bob.accessToken })).body).toEqual({});
    expectError(await call("GET", aliasPath(bobs)), 404, "M_NOT_FOUND");
    expect((await call("DELETE", aliasPath(alices), { token: alice.accessToken })).status).toBe(200);
    expectError(await call("GET", aliasPath(alices)), 404, "M_NOT_FOUND");
  });

  it("takes a deleted alias out of m.room.canonical_alias", async () => {
    const alice = await registerUser("canon");
    const roomId = await createRoom(alice);
    const main = alias(uniqueName("main"));
    const alt = alias(uniqueName("alt"));
    for (const a of [main, alt]) expect((await call("PUT", aliasPath(a), { token: alice.accessToken, body: { room_id: roomId } })).status).toBe(200);
    await putState(alice, roomId, "m.room.canonical_alias", { alias: main, alt_aliases: [alt] });

    expect((await call("DELETE", aliasPath(main), { token: alice.accessToken })).status).toBe(200);
    const state = await call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.canonical_alias/`, { token: alice.accessToken });
    expect(state.body).toEqual({ alt_aliases: [alt] });
  });

  it("lists a room's aliases to members and to anyone in world-readable rooms only", async () => {
    const alice = await registerUser("alias");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    const a = alias(uniqueName("list"));
    expect((await call("PUT", aliasPath(a), { token: alice.accessToken, body: { room_id: roomId } })).status).toBe(200);
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/aliases`;
    expectError(await call("GET", path, { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("GET", path), 401, "M_MISSING_TOKEN");
    expectError(await call("GET", "/_matrix/client/v3/rooms/not-a-room/aliases", { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    await putState(alice, roomId, "m.room.history_visibility", { history_visibility: "world_readable" });
    expect((await call("GET", path, { token: eve.accessToken })).body).toEqual({ aliases: [a] });
  });
});

describe("room directory visibility", () => {
  it("publishes and unpublishes a room for users with the power to", async () => {
    const alice = await registerUser("pub");
    const bob = await registerUser("member");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });

    expectError(await call("PUT", listPath(roomId), { token: bob.accessToken, body: { visibility: "public" } }), 403, "M_FORBIDDEN");
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });

    expect((await call("PUT", listPath(roomId), { token: alice.accessToken, body: { visibility: "public" } })).body).toEqual({});
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "public" });
    expect((await call("PUT", listPath(roomId), { token: alice.accessToken, body: { visibility: "private" } })).status).toBe(200);
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
    // An empty object means "public", the spec's default.
    expect((await call("PUT", listPath(roomId), { token: alice.accessToken, body: {} })).status).toBe(200);
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "public" });
  });

  it("answers 404 for unknown rooms and 400 for bad requests", async () => {
    const alice = await registerUser("pub");
    const eve = await registerUser("eve");
    const roomId = await createRoom(alice);
    const unknown = `!unknown${uniqueName()}:${SERVER}`;
    expectError(await call("GET", listPath(unknown)), 404, "M_NOT_FOUND");
    expectError(await call("PUT", listPath(unknown), { token: alice.accessToken, body: { visibility: "public" } }), 404, "M_NOT_FOUND");
    expectError(await call("PUT", listPath(roomId), { token: alice.accessToken, body: { visibility: "secret" } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", listPath(roomId), { token: alice.accessToken, rawBody: "[" }), 400, "M_NOT_JSON");
    expectError(await call("PUT", listPath(roomId), { body: { visibility: "public" } }), 401, "M_MISSING_TOKEN");
    expectError(await call("PUT", listPath(roomId), { token: eve.accessToken, body: { visibility: "public" } }), 403, "M_FORBIDDEN");
    expectError(await call("GET", listPath("not-a-room")), 400, "M_INVALID_PARAM");
  });

  it("refuses users who have left, whatever their power level", async () => {
    const alice = await registerUser("pub");
    const bob = await registerUser("member");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    expect((await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { token: alice.accessToken, body: {} })).status).toBe(200);
    expectError(await call("PUT", listPath(roomId), { token: alice.accessToken, body: { visibility: "public" } }), 403, "M_FORBIDDEN");
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
  });
});

describe("public room directory", () => {
  it("lists published rooms with their directory fields", async () => {
    const alice = await registerUser("dir");
    const tag = uniqueName("fields");
    const a = alias(tag);
    const roomId = await createRoom(alice, {
      preset: "public_chat",
      visibility: "public",
      name: `Name ${tag}`,
      topic: "A topic",
      room_alias_name: tag,
      creation_content: { type: "m.space" },
    });
    await putState(alice, roomId, "m.room.canonical_alias", { alias: a });
    await putState(alice, roomId, "m.room.avatar", { url: "mxc://example.org/avatar" });
    await putState(alice, roomId, "m.room.guest_access", { guest_access: "can_join" });
    const privateRoom = await createRoom(alice, { name: `Name ${tag} private` });

    const page = await searchPublicRooms(alice, { filter: { generic_search_term: tag } });
    expect(page.status).toBe(200);
    expect(page.body).toEqual({
      chunk: [
        {
          room_id: roomId,
          num_joined_members: 1,
          world_readable: false,
          guest_can_join: true,
          join_rule: "public",
          name: `Name ${tag}`,
          topic: "A topic",
          avatar_url: "mxc://example.org/avatar",
          canonical_alias: a,
          room_type: "m.space",
        },
      ],
      total_room_count_estimate: 1,
    });
    expect(page.body.chunk.map((r) => r["room_id"])).not.toContain(privateRoom);

    // The unauthenticated listing has the room too.
    const all: string[] = [];
    let since: string | undefined;
    do {
      const res = await call<PublicRoomsPage>("GET", `/_matrix/client/v3/publicRooms?limit=50${since ? `&since=${since}` : ""}`);
      expect(res.status).toBe(200);
      all.push(...res.body.chunk.map((r) => r["room_id"] as string));
      since = res.body.next_batch;
    } while (since);
    expect(all).toContain(roomId);
    expect(all).not.toContain(privateRoom);
  });

  it("searches name, topic and canonical alias case-insensitively, and filters by room type", async () => {
    const alice = await registerUser("dir");
    const tag = uniqueName("srch");
    const byName = await createRoom(alice, { visibility: "public", name: `${tag.toUpperCase()} by name` });
    const byTopic = await createRoom(alice, { visibility: "public", name: "Other", topic: `about ${tag}` });
    const byAlias = await createRoom(alice, { visibility: "public", room_alias_name: `${tag}-alias` });
    await putState(alice, byAlias, "m.room.canonical_alias", { alias: alias(`${tag}-alias`) });
    const space = await createRoom(alice, { visibility: "public", name: `${tag} space`, creation_content: { type: "m.space" } });

    const ids = async (filter: Record<string, unknown>) =>
      (await searchPublicRooms(alice, { filter })).body.chunk.map((r) => r["room_id"] as string).sort();
    expect(await ids({ generic_search_term: tag })).toEqual([byName, byTopic, byAlias, space].sort());
    expect(await ids({ generic_search_term: `${tag.toUpperCase()}-ALIAS` })).toEqual([byAlias]);
    expect(await ids({ generic_search_term: "by NAME", room_types: null })).toContain(byName);
    expect(await ids({ generic_search_term: tag, room_types: ["m.space"] })).toEqual([space]);
    expect(await ids({ generic_search_term: tag, room_types: [null] })).toEqual([byName, byTopic, byAlias].sort());
    expect(await ids({ generic_search_term: tag, room_types: [null, "m.space"] })).toEqual([byName, byTopic, byAlias, space].sort());
    expect((await searchPublicRooms(alice, { filter: { generic_search_term: `${tag}-nothing` } })).body).toEqual({ chunk: [], total_room_count_estimate: 0 });
    // A blank term is no filter: rooms with no name, topic or alias are listed too.
    const bare = await createRoom(alice, { visibility: "public" });
    expect(await ids({ generic_search_term: "  " })).toContain(bare);
  });

  it("pages through more than five rooms in both directions, most joined members first", async () => {
    const alice = await registerUser("dir");
    const bob = await registerUser("dir");
    const carol = await registerUser("dir");
    const tag = uniqueName("page");
    const roomIds: string[] = [];
    for (let i = 0; i < 7; i++) roomIds.push(await createRoom(alice, { preset: "public_chat", visibility: "public", name: `${tag} ${i}` }));
    await join(bob, roomIds[3]!);
    await join(bob, roomIds[5]!);
    await join(carol, roomIds[5]!);
    const rest = roomIds.filter((_, i) => i !== 3 && i !== 5).sort();
    const expected = [roomIds[5]!, roomIds[3]!, ...rest];

    const filter = { generic_search_term: tag };
    const first = await searchPublicRooms(alice, { filter, limit: 3 });
    expect(first.body.chunk.map((r) => r["num_joined_members"])).toEqual([3, 2, 1]);
    expect(first.body.total_room_count_estimate).toBe(7);
    expect(first.body.prev_batch).toBeUndefined();
    const second = await searchPublicRooms(alice, { filter, limit: 3, since: first.body.next_batch });
    const third = await searchPublicRooms(alice, { filter, limit: 3, since: second.body.next_batch });
    expect(third.body.next_batch).toBeUndefined();
    const seen = [first, second, third].flatMap((page) => page.body.chunk.map((r) => r["room_id"]));
    expect(seen).toEqual(expected);

    const back = await searchPublicRooms(alice, { filter, limit: 3, since: third.body.prev_batch });
    expect(back.body.chunk.map((r) => r["room_id"])).toEqual(second.body.chunk.map((r) => r["room_id"]));
    const start = await searchPublicRooms(alice, { filter, limit: 3, since: second.body.prev_batch });
    expect(start.body.chunk.map((r) => r["room_id"])).toEqual(expected.slice(0, 3));
    expect(start.body.prev_batch).toBeUndefined();
  });

  it("pages the unauthenticated listing with limit and since", async () => {
    const alice = await registerUser("dir");
    for (let i = 0; i < 6; i++) await createRoom(alice, { visibility: "public", name: uniqueName("get") });
    const seen: string[] = [];
    const counts: number[] = [];
    let since: string | undefined;
    let pages = 0;
    do {
      const res = await call<PublicRoomsPage>("GET", `/_matrix/client/v3/publicRooms?limit=2${since ? `&since=${since}` : ""}`);
      expect(res.body.chunk.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.chunk.map((r) => r["room_id"] as string));
      counts.push(...res.body.chunk.map((r) => r["num_joined_members"] as number));
      since = res.body.next_batch;
      pages++;
    } while (since);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(counts).toEqual([...counts].sort((x, y) => y - x));
    const first = await call<PublicRoomsPage>("GET", "/_matrix/client/v3/publicRooms");
    expect(first.body.total_room_count_estimate).toBe(seen.length);
  });

  it("rejects bad parameters, other servers and malformed bodies", async () => {
    const alice = await registerUser("dir");
    expectError(await call("GET", "/_matrix/client/v3/publicRooms?limit=abc"), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v3/publicRooms?limit=-1"), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v3/publicRooms?since=bogus"), 400, "M_INVALID_PARAM");
    expectError(await call("GET", "/_matrix/client/v3/publicRooms?server=elsewhere.example"), 400, "M_INVALID_PARAM");
    expect((await call("GET", `/_matrix/client/v3/publicRooms?server=${encodeURIComponent(SERVER)}`)).status).toBe(200);
    expectError(await call("POST", "/_matrix/client/v3/publicRooms", { body: {} }), 401, "M_MISSING_TOKEN");
    expectError(await call("POST", "/_matrix/client/v3/publicRooms", { token: alice.accessToken, rawBody: "{" }), 400, "M_NOT_JSON");
    expectError(await searchPublicRooms(alice, { limit: "ten" }), 400, "M_BAD_JSON");
    expectError(await searchPublicRooms(alice, { filter: { room_types: "m.space" } }), 400, "M_BAD_JSON");
    expectError(await searchPublicRooms(alice, { since: "nope" }), 400, "M_INVALID_PARAM");
    expectError(await searchPublicRooms(alice, { include_all_networks: true, third_party_instance_id: "irc" }), 400, "M_INVALID_PARAM");
    expect((await searchPublicRooms(alice, { third_party_instance_id: "irc" })).body).toEqual({ chunk: [], total_room_count_estimate: 0 });
    expect((await searchPublicRooms(alice, { include_all_networks: true, filter: null })).status).toBe(200);
  });
});
