import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Pdu } from "../../src/rooms/pdu";
import { insertEventStatements } from "../../src/storage/events";
import { getLatestEdits } from "../../src/storage/relations";
import { type TestUser, call, expectError, registerUser } from "../helpers";

interface Event {
  event_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  unsigned?: { "m.relations"?: Record<string, unknown> } & Record<string, unknown>;
}

interface Page {
  chunk: Event[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

interface ThreadBundle {
  latest_event: Event;
  count: number;
  current_user_participated: boolean;
}

const r = encodeURIComponent;

async function createRoom(user: TestUser): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body: {} });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["room_id"] as string;
}

async function join(owner: TestUser, user: TestUser, roomId: string): Promise<void> {
  expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: owner.accessToken, body: { user_id: user.userId } })).status).toBe(200);
  expect((await call("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: user.accessToken })).status).toBe(200);
}

async function send(user: TestUser, roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
  const res = await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/${type}/${crypto.randomUUID()}`, { token: user.accessToken, body: content });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["event_id"] as string;
}

const text = (body: string) => ({ msgtype: "m.text", body });
const relating = (relType: string, parent: string, body = "child") => ({ ...text(body), "m.relates_to": { rel_type: relType, event_id: parent } });
const edit = (parent: string, body: string) => ({
  ...text(`* ${body}`),
  "m.new_content": text(body),
  "m.relates_to": { rel_type: "m.replace", event_id: parent },
});

async function redact(user: TestUser, roomId: string, eventId: string): Promise<void> {
  const res = await call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/redact/${r(eventId)}/${crypto.randomUUID()}`, { token: user.accessToken, body: {} });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

function relationsPath(roomId: string, eventId: string, rest = "", query = ""): string {
  return `/_matrix/client/v1/rooms/${r(roomId)}/relations/${r(eventId)}${rest}${query ? `?${query}` : ""}`;
}

async function getRelations(user: TestUser, roomId: string, eventId: string, rest = "", query = ""): Promise<Page> {
  const res = await call<Page>("GET", relationsPath(roomId, eventId, rest, query), { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function getThreads(user: TestUser, roomId: string, query = ""): Promise<Page> {
  const res = await call<Page>("GET", `/_matrix/client/v1/rooms/${r(roomId)}/threads${query ? `?${query}` : ""}`, { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function getEvent(user: TestUser, roomId: string, eventId: string): Promise<Event> {
  const res = await call<Event>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/event/${r(eventId)}`, { token: user.accessToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Follows next_batch until it is absent, collecting the event ids of every page. */
async function allPages(user: TestUser, roomId: string, eventId: string, query: string): Promise<{ ids: string[]; pages: Page[] }> {
  const pages: Page[] = [];
  let from: string | undefined;
  do {
    const page = await getRelations(user, roomId, eventId, "", `${query}${from ? `&from=${from}` : ""}`);
    pages.push(page);
    from = page.next_batch;
  } while (from !== undefined && pages.length < 10);
  return { ids: pages.flatMap((p) => p.chunk.map((e) => e.event_id)), pages };
}

const ids = (page: Page) => page.chunk.map((e) => e.event_id);
const relationsOf = (event: Event) => event.unsigned?.["m.relations"];

describe("relations", () => {
  it("pages through more than 25 relations in both directions", async () => {
    const alice = await registerUser("relpage");
    const roomId = await createRoom(alice);
    const root = await send(alice, roomId, text("root"));
    const children: string[] = [];
    for (let i = 0; i < 30; i++) children.push(await send(alice, roomId, relating("m.thread", root, `reply ${i}`)));
    await send(alice, roomId, text("unrelated"));

    const firstPage = await getRelations(alice, roomId, root);
    expect(ids(firstPage)).toEqual(children.slice(10).reverse());
    expect(firstPage.prev_batch).toBeUndefined();
    expect(firstPage.recursion_depth).toBeUndefined();

    const backwards = await allPages(alice, roomId, root, "limit=12");
    expect(backwards.ids).toEqual([...children].reverse());
    expect(backwards.pages.map((p) => p.chunk.length)).toEqual([12, 12, 6]);
    expect(backwards.pages[1]!.prev_batch).toBe(backwards.pages[0]!.next_batch);

    const forwards = await allPages(alice, roomId, root, "limit=12&dir=f");
    expect(forwards.ids).toEqual(children);
    expect(forwards.pages.map((p) => p.chunk.length)).toEqual([12, 12, 6]);

    // `to` bounds a backwards scan: from the newest down to (not including) the end of the first page.
    const bounded = await getRelations(alice, roomId, root, "", `limit=50&to=${backwards.pages[0]!.next_batch}`);
    expect(ids(bounded)).toEqual(ids(backwards.pages[0]!));
    expect(bounded.next_batch).toBeUndefined();
  });

  it("filters by relation type and event type", async () => {
    const alice = await registerUser("relfilter");
    const roomId = await createRoom(alice);
    const parent = await send(alice, roomId, text("parent"));
    const other = await send(alice, roomId, text("other"));
    const thread = await send(alice, roomId, relating("m.thread", parent));
    const note = await send(alice, roomId, { "m.relates_to": { rel_type: "m.reference", event_id: parent } }, "org.example.note");
    const reaction = await send(alice, roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: parent, key: "👍" } }, "m.reaction");
    await send(alice, roomId, { ...text("a reply is not a relation"), "m.relates_to": { "m.in_reply_to": { event_id: parent } } });
    await send(alice, roomId, relating("m.reference", other));

    expect(ids(await getRelations(alice, roomId, parent))).toEqual([reaction, note, thread]);
    expect(ids(await getRelations(alice, roomId, parent, "/m.reference"))).toEqual([note]);
    expect(ids(await getRelations(alice, roomId, parent, "/m.reference/org.example.note"))).toEqual([note]);
    expect(ids(await getRelations(alice, roomId, parent, "/m.reference/m.room.message"))).toEqual([]);
    expect(ids(await getRelations(alice, roomId, parent, "/m.annotation/m.reaction"))).toEqual([reaction]);
  });

  it("follows relations of relations when asked to recurse", async () => {
    const alice = await registerUser("relrec");
    const roomId = await createRoom(alice);
    const parent = await send(alice, roomId, text("parent"));
    const c1 = await send(alice, roomId, relating("m.reference", parent, "depth 1"));
    const c2 = await send(alice, roomId, relating("m.reference", c1, "depth 2"));
    const c3 = await send(alice, roomId, relating("org.example.rel", c2, "depth 3"));
    await send(alice, roomId, relating("m.reference", c3, "depth 4"));

    const direct = await getRelations(alice, roomId, parent);
    expect(ids(direct)).toEqual([c1]);
    expect(direct.recursion_depth).toBeUndefined();

    const deep = await getRelations(alice, roomId, parent, "", "recurse=true");
    expect(ids(deep)).toEqual([c3, c2, c1]);
    expect(deep.recursion_depth).toBe(3);

    // The relation type filter applies at every depth, while the walk still goes through other types.
    expect(ids(await getRelations(alice, roomId, parent, "/org.example.rel", "recurse=true"))).toEqual([c3]);
    expect(ids(await getRelations(alice, roomId, parent, "/m.reference", "recurse=true"))).toEqual([c2, c1]);

    const explicitlyFlat = await getRelations(alice, roomId, parent, "", "recurse=false");
    expect(ids(explicitlyFlat)).toEqual([c1]);
    expect(explicitlyFlat.recursion_depth).toBe(1);
  });

  it("lists thread roots by latest activity, optionally only those the user took part in", async () => {
    const alice = await registerUser("thralice");
    const bob = await registerUser("thrbob");
    const roomId = await createRoom(alice);
    await join(alice, bob, roomId);
    const rootA = await send(alice, roomId, text("A"));
    const rootB = await send(alice, roomId, text("B"));
    const rootC = await send(bob, roomId, text("C"));
    await send(alice, roomId, text("not a thread"));
    await send(bob, roomId, relating("m.thread", rootA));
    await send(alice, roomId, relating("m.thread", rootB));
    await send(alice, roomId, relating("m.thread", rootC));
    const latestA = await send(alice, roomId, relating("m.thread", rootA));

    const all = await getThreads(alice, roomId);
    expect(ids(all)).toEqual([rootA, rootC, rootB]);
    expect(all.next_batch).toBeUndefined();
    const threadA = relationsOf(all.chunk[0]!)?.["m.thread"] as ThreadBundle;
    expect({ latest: threadA.latest_event.event_id, count: threadA.count }).toEqual({ latest: latestA, count: 2 });

    // Bob replied in A and started C; he never posted in B.
    expect(ids(await getThreads(bob, roomId, "include=participated"))).toEqual([rootA, rootC]);
    expect(ids(await getThreads(alice, roomId, "include=participated"))).toEqual([rootA, rootC, rootB]);

    const first = await getThreads(alice, roomId, "limit=2");
    expect(ids(first)).toEqual([rootA, rootC]);
    const second = await getThreads(alice, roomId, `limit=2&from=${first.next_batch}`);
    expect(ids(second)).toEqual([rootB]);
    expect(second.next_batch).toBeUndefined();
  });

  it("bundles thread summaries with the latest event, its edits, the count and participation", async () => {
    const alice = await registerUser("aggalice");
    const bob = await registerUser("aggbob");
    const carol = await registerUser("aggcarol");
    const roomId = await createRoom(alice);
    await join(alice, bob, roomId);
    await join(alice, carol, roomId);
    const root = await send(alice, roomId, text("root"));
    const byBob = await send(bob, roomId, relating("m.thread", root, "from bob"));
    const latest = await send(carol, roomId, relating("m.thread", root, "from carol"));
    const latestEdit = await send(carol, roomId, edit(latest, "from carol, edited"));

    const asBob = relationsOf(await getEvent(bob, roomId, root))?.["m.thread"] as ThreadBundle;
    expect({ count: asBob.count, participated: asBob.current_user_participated }).toEqual({ count: 2, participated: true });
    expect(asBob.latest_event).toMatchObject({ event_id: latest, sender: carol.userId, content: { body: "from carol" } });
    expect((asBob.latest_event.unsigned?.["m.relations"]?.["m.replace"] as Event).event_id).toBe(latestEdit);

    // Alice sent the root, so she took part even without replying.
    expect((relationsOf(await getEvent(alice, roomId, root))?.["m.thread"] as ThreadBundle).current_user_participated).toBe(true);

    const dave = await registerUser("aggdave");
    await join(alice, dave, roomId);
    expect((relationsOf(await getEvent(dave, roomId, root))?.["m.thread"] as ThreadBundle).current_user_participated).toBe(false);

    // A redacted thread event no longer counts, and the bundle also comes with /messages.
    await redact(bob, roomId, byBob);
    const messages = await call<{ chunk: Event[] }>("GET", `/_matrix/client/v3/rooms/${r(roomId)}/messages?dir=b&limit=50`, { token: alice.accessToken });
    const rootInTimeline = messages.body.chunk.find((e) => e.event_id === root)!;
    expect((relationsOf(rootInTimeline)?.["m.thread"] as ThreadBundle).count).toBe(1);
  });

  it("bundles the most recent valid edit without touching the original content", async () => {
    const alice = await registerUser("editalice");
    const bob = await registerUser("editbob");
    const roomId = await createRoom(alice);
    await join(alice, bob, roomId);
    const original = await send(alice, roomId, text("original"));
    const first = await send(alice, roomId, edit(original, "first"));
    const second = await send(alice, roomId, edit(original, "second"));
    // Invalid edits: another sender, another type, no m.new_content.
    await send(bob, roomId, edit(original, "bob's"));
    await send(alice, roomId, edit(original, "other type"), "org.example.message");
    await send(alice, roomId, relating("m.replace", original, "no new content"));

    const edits = await getRelations(alice, roomId, original, "/m.replace");
    const byRecency = edits.chunk
      .filter((e) => e.event_id === first || e.event_id === second)
      .sort((a, b) => a.origin_server_ts - b.origin_server_ts || (a.event_id < b.event_id ? -1 : 1));
    const [older, newest] = byRecency.map((e) => e.event_id);

    const event = await getEvent(alice, roomId, original);
    expect(event.content).toEqual(text("original"));
    const replace = relationsOf(event)?.["m.replace"] as Event;
    expect(replace).toMatchObject({ event_id: newest, sender: alice.userId, type: "m.room.message" });
    expect(replace.content["m.new_content"]).toBeDefined();

    // Each kind of invalid edit, alone, gives no m.replace.
    for (const [sender, type, content] of [
      [bob, "m.room.message", (id: string) => edit(id, "bob's")],
      [alice, "org.example.message", (id: string) => edit(id, "other type")],
      [alice, "m.room.message", (id: string) => relating("m.replace", id, "no new content")],
    ] as const) {
      const target = await send(alice, roomId, text("target"));
      await send(sender, roomId, content(target), type);
      expect(relationsOf(await getEvent(alice, roomId, target))?.["m.replace"]).toBeUndefined();
    }

    // Redacting the latest edit reverts to the one before it.
    await redact(alice, roomId, newest!);
    expect((relationsOf(await getEvent(alice, roomId, original))?.["m.replace"] as Event).event_id).toBe(older);

    // A redacted original carries no edit at all.
    await redact(alice, roomId, original);
    expect(relationsOf(await getEvent(alice, roomId, original))?.["m.replace"]).toBeUndefined();
  });

  it("orders edits by origin_server_ts, then event id, not by arrival", async () => {
    const roomId = `!edits${crypto.randomUUID()}:test`;
    const sender = "@editor:test";
    const store = (eventId: string, ts: number, content: Record<string, unknown>) => {
      const pdu: Pdu = {
        room_id: roomId, sender, origin_server_ts: ts, type: "m.room.message", content,
        prev_events: [], auth_events: [], depth: 1, hashes: { sha256: "" }, signatures: {},
      };
      return env.DB.batch(insertEventStatements(env.DB, { eventId, roomId, pdu, unsigned: null }));
    };
    const tag = crypto.randomUUID();
    await store(`$a${tag}`, 1000, text("original a"));
    await store(`$b${tag}`, 1000, text("original b"));
    // Arrival order is the reverse of the spec's recency for both originals.
    await store(`$a-late${tag}`, 3000, edit(`$a${tag}`, "latest by timestamp"));
    await store(`$a-early${tag}`, 2000, edit(`$a${tag}`, "arrived last"));
    await store(`$b-z${tag}`, 2000, edit(`$b${tag}`, "same timestamp, larger id"));
    await store(`$b-y${tag}`, 2000, edit(`$b${tag}`, "same timestamp, smaller id"));

    const latest = await getLatestEdits(env.DB, [`$a${tag}`, `$b${tag}`]);
    expect(latest.map((e) => e.event_id).sort()).toEqual([`$a-late${tag}`, `$b-z${tag}`]);
  });

  it("bundles references but not annotations, leaving redacted ones out", async () => {
    const alice = await registerUser("refalice");
    const roomId = await createRoom(alice);
    const parent = await send(alice, roomId, text("parent"));
    const ref1 = await send(alice, roomId, relating("m.reference", parent));
    const ref2 = await send(alice, roomId, relating("m.reference", parent));
    const ref3 = await send(alice, roomId, relating("m.reference", parent));
    await send(alice, roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: parent, key: "👍" } }, "m.reaction");
    await redact(alice, roomId, ref2);

    const bundle = relationsOf(await getEvent(alice, roomId, parent));
    expect(bundle).toEqual({ "m.reference": { chunk: [{ event_id: ref1 }, { event_id: ref3 }] } });
    expect(ids(await getRelations(alice, roomId, parent))).not.toContain(ref2);
  });

  it("enforces history visibility", async () => {
    const alice = await registerUser("visalice");
    const bob = await registerUser("visbob");
    const eve = await registerUser("viseve");
    const roomId = await createRoom(alice);
    await join(alice, bob, roomId);
    const root = await send(alice, roomId, text("root"));
    const seen = await send(alice, roomId, relating("m.thread", root, "seen"));
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/leave`, { token: bob.accessToken })).status).toBe(200);
    await send(alice, roomId, relating("m.thread", root, "after bob left"));
    const later = await send(alice, roomId, text("after bob left"));

    expectError(await call("GET", relationsPath(roomId, root), { token: eve.accessToken }), 403, "M_FORBIDDEN");
    expectError(await call("GET", `/_matrix/client/v1/rooms/${r(roomId)}/threads`, { token: eve.accessToken }), 403, "M_FORBIDDEN");

    expect(ids(await getRelations(bob, roomId, root))).toEqual([seen]);
    expectError(await call("GET", relationsPath(roomId, later), { token: bob.accessToken }), 404, "M_NOT_FOUND");
    // Bob may see the root but not the thread's latest event, so he gets no summary that would reveal it.
    expect(relationsOf(await getEvent(bob, roomId, root))?.["m.thread"]).toBeUndefined();
    expect((relationsOf(await getEvent(alice, roomId, root))?.["m.thread"] as ThreadBundle).count).toBe(2);
  });

  it("rejects bad input and unknown parents", async () => {
    const alice = await registerUser("relbad");
    const roomId = await createRoom(alice);
    const otherRoom = await createRoom(alice);
    const parent = await send(alice, roomId, text("parent"));
    const elsewhere = await send(alice, otherRoom, text("elsewhere"));
    const get = (path: string) => call("GET", path, { token: alice.accessToken });

    for (const query of ["limit=abc", "limit=0", "limit=-1", "limit=1.5", "from=nonsense", "to=s", "dir=x", "recurse=yes"]) {
      expectError(await get(relationsPath(roomId, parent, "", query)), 400, "M_INVALID_PARAM");
    }
    expectError(await get(relationsPath(roomId, "$unknown")), 404, "M_NOT_FOUND");
    expectError(await get(relationsPath(roomId, elsewhere)), 404, "M_NOT_FOUND");
    expectError(await get(relationsPath("not-a-room", parent)), 400, "M_INVALID_PARAM");
    for (const query of ["include=mine", "limit=0", "from=nonsense"]) {
      expectError(await get(`/_matrix/client/v1/rooms/${r(roomId)}/threads?${query}`), 400, "M_INVALID_PARAM");
    }
    expectError(await call("GET", relationsPath(roomId, parent)), 401, "M_MISSING_TOKEN");
  });
});
