// The real PortalObject (env.BRIDGE_PORTALS) against the real homeserver (loopback), with a fake "testnet" connector.
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../../homeserver/src/index";
import { call, registerUser } from "../../../homeserver/test/helpers";
import { registerConnector } from "../connectors";
import { type PortalKey, type RemoteMessageId, portalKey, remoteMessageId, remoteUserId } from "../ids";
import type { BridgeIdentity, ChatInfo, MatrixMessage, RemoteMessage, RemoteSender, SentMessage } from "../network";
import { PortalObject } from "../portal-object";
import { portalStub } from "../portals";

const NET = "testnet";
const AS_TOKEN = "testnet-as-token";
const SERVER = "localhost:8787";

/** The fake network: chats, their message history, files by URL, and what the portal handed it. */
const network = {
  chats: new Map<string, ChatInfo>(),
  history: new Map<string, RemoteMessage[]>(),
  files: new Map<string, Uint8Array>(),
  downloads: [] as string[],
  received: [] as Array<{ key: string; message: MatrixMessage }>,
  reads: [] as Array<{ key: string; target: string }>,
  typing: [] as Array<{ key: string; typing: boolean }>,
  changes: [] as string[],
  sentCount: 0,
};
const settings: { owner: string; backfillLimit: number; maxMediaBytes?: number } = { owner: "", backfillLimit: 0 };

const api = {
  async getChatInfo(key: PortalKey): Promise<ChatInfo> {
    return network.chats.get(key) ?? { name: `chat ${key}` };
  },
  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<SentMessage> {
    network.received.push({ key, message });
    const id = `sent-${++network.sentCount}`;
    // "split: ..." goes as two remote messages, as a network with a length limit sends a long text.
    return message.content.body.startsWith("split:") ? { messageId: remoteMessageId(id), extraMessageIds: [remoteMessageId(`${id}-tail`)] } : { messageId: remoteMessageId(id) };
  },
  async handleMatrixReadReceipt(key: PortalKey, target: RemoteMessageId): Promise<void> {
    network.reads.push({ key, target });
  },
  async handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void> {
    network.changes.push(`${key} edit ${target} ${message.content.body}`);
  },
  async handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    network.changes.push(`${key} react ${target} ${emoji}`);
  },
  async handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    network.changes.push(`${key} unreact ${target} ${emoji}`);
  },
  async handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void> {
    network.changes.push(`${key} delete ${target}`);
  },
  async handleMatrixTyping(key: PortalKey, typing: boolean): Promise<void> {
    network.typing.push({ key, typing });
  },
  async fetchMessages(key: PortalKey, after: RemoteMessageId | null, limit: number): Promise<RemoteMessage[]> {
    const all = network.history.get(key) ?? [];
    const from = after === null ? Math.max(0, all.length - limit) : all.findIndex((m) => m.messageId === after) + 1;
    return all.slice(from, from + limit);
  },
  async downloadRemoteMedia(url: string): Promise<Response> {
    network.downloads.push(url);
    const bytes = network.files.get(url);
    return bytes ? new Response(bytes, { headers: { "content-type": "image/png" } }) : new Response("gone", { status: 404 });
  },
};

const identity = (): BridgeIdentity => ({
  asToken: AS_TOKEN,
  hsToken: "testnet-hs-token",
  serverName: SERVER,
  botLocalpart: "_testnet_bot",
  ghostLocalpart: (id) => `_testnet_${id}`,
  owner: settings.owner,
  protocol: { id: "testnet", displayname: "Test network" },
  backfillLimit: settings.backfillLimit,
  ...(settings.maxMediaBytes !== undefined ? { maxMediaBytes: settings.maxMediaBytes } : {}),
});

registerConnector({ networkId: NET, identity, loadApi: () => api });

let n = 0;
const uniqueKey = (prefix: string) => portalKey(`${prefix}-${Date.now().toString(36)}-${n++}`);
const alice: RemoteSender = { id: remoteUserId("alice"), displayName: "Alice" };

function remote(key: PortalKey, id: string, body: string, extra: Partial<RemoteMessage> = {}): RemoteMessage {
  return { kind: "message", portalKey: key, sender: alice, messageId: remoteMessageId(id), timestamp: 1_700_000_000_000, content: { msgtype: "m.text", body }, ...extra };
}

const portal = (key: PortalKey) => portalStub(env, NET, key);
const asBot = (path: string) => call("GET", path, { token: AS_TOKEN });
const enc = encodeURIComponent;

async function eventContent(roomId: string, eventId: string): Promise<Record<string, unknown>> {
  const res = await asBot(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  expect(res.status).toBe(200);
  return res.body["content"] as Record<string, unknown>;
}

async function state(roomId: string, type: string, stateKey = ""): Promise<Record<string, unknown> | null> {
  const res = await asBot(`/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`);
  return res.status === 200 ? res.body : null;
}

async function timeline(roomId: string): Promise<Array<{ body: unknown; ts: unknown }>> {
  const res = await asBot(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=f&limit=100`);
  expect(res.status).toBe(200);
  const chunk = res.body["chunk"] as Array<{ type: string; content: { body?: unknown }; origin_server_ts: unknown }>;
  return chunk.filter((e) => e.type === "m.room.message").map((e) => ({ body: e.content.body, ts: e.origin_server_ts }));
}

/** An mxc's bytes through the authenticated download endpoint (raw: the shared helper reads bodies as text). */
async function mediaBytes(mxc: string): Promise<Uint8Array> {
  const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc)!;
  const request = new Request(`http://localhost/_matrix/client/v1/media/download/${server}/${id}`, { headers: { authorization: `Bearer ${AS_TOKEN}` } });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

let ownerToken = "";
beforeAll(async () => {
  const owner = await registerUser("coreowner");
  settings.owner = owner.userId;
  ownerToken = owner.accessToken;
});

describe("portal: threads", () => {
  it("thread parts carry m.thread with the fallback reply to the thread's newest event; a real reply is not falling back", async () => {
    const key = uniqueKey("thread");
    network.files.set("https://remote/t.png", new Uint8Array([1, 2, 3]));
    const root = await portal(key).handleRemoteEvent(NET, remote(key, "r", "root"));
    const t1 = await portal(key).handleRemoteEvent(NET, remote(key, "t1", "first", { threadRoot: remoteMessageId("r") }));
    const t2 = await portal(key).handleRemoteEvent(NET, remote(key, "t2", "second", { threadRoot: remoteMessageId("r") }));
    const t3 = await portal(key).handleRemoteEvent(NET, remote(key, "t3", "answer", { threadRoot: remoteMessageId("r"), replyTo: remoteMessageId("t1") }));
    const withFile = remote(key, "t4", "with file", {
      threadRoot: remoteMessageId("r"),
      attachments: [{ url: "https://remote/t.png", filename: "t.png", mimetype: "image/png", size: 3 }],
    });
    const t4 = await portal(key).handleRemoteEvent(NET, withFile);
    const loose = await portal(key).handleRemoteEvent(NET, remote(key, "x", "unmapped root", { threadRoot: remoteMessageId("nowhere") }));
    const rel = async (eventId: string) => (await eventContent(root.roomId, eventId))["m.relates_to"];
    const thread = (inReplyTo: string, fallingBack: boolean) => ({ rel_type: "m.thread", event_id: root.eventId, is_falling_back: fallingBack, "m.in_reply_to": { event_id: inReplyTo } });
    expect(await rel(root.eventId)).toBeUndefined();
    expect(await rel(t1.eventId)).toEqual(thread(root.eventId, true));
    expect(await rel(t2.eventId)).toEqual(thread(t1.eventId, true));
    expect(await rel(t3.eventId)).toEqual(thread(t1.eventId, false));
    expect(await rel(t4.eventId)).toEqual(thread(t3.eventId, true));
    const filePart = (await portal(key).messageMap()).find((r) => r.remoteId === "t4" && r.part === 1)!;
    expect(await rel(filePart.eventId)).toEqual(thread(t4.eventId, true));
    expect(await rel(loose.eventId)).toBeUndefined();

    // From Matrix: the thread root and the reply target as remote ids; the next remote part falls back to it.
    await portal(key).handleMatrixMessage(NET, {
      eventId: "$from-matrix-thread",
      roomId: root.roomId,
      sender: settings.owner,
      content: { msgtype: "m.text", body: "mine" },
      replyToEventId: t2.eventId,
      threadRootEventId: root.eventId,
    });
    expect(network.received.at(-1)).toEqual({
      key,
      message: {
        eventId: "$from-matrix-thread",
        roomId: root.roomId,
        sender: settings.owner,
        content: { msgtype: "m.text", body: "mine" },
        replyToEventId: t2.eventId,
        replyTo: "t2",
        threadRootEventId: root.eventId,
        threadRoot: "r",
      },
    });
    const t5 = await portal(key).handleRemoteEvent(NET, remote(key, "t5", "after mine", { threadRoot: remoteMessageId("r") }));
    expect(await rel(t5.eventId)).toEqual(thread("$from-matrix-thread", true));
  });
});

describe("portal: rooms", () => {
  it("a chat in a space: the space created once, with m.space.child in it and a canonical m.space.parent in each chat", async () => {
    const space = { key: uniqueKey("space"), name: "Server", topic: "the server", avatarUrl: "https://remote/server.png" };
    network.files.set(space.avatarUrl, new Uint8Array([9, 9, 9]));
    const [a, b] = [uniqueKey("chan-a"), uniqueKey("chan-b")];
    network.chats.set(a, { name: "general", space: { ...space, order: "0001" } });
    network.chats.set(b, { name: "random", space });
    const roomA = (await portal(a).handleRemoteEvent(NET, remote(a, "a1", "hi"))).roomId;
    const roomB = (await portal(b).handleRemoteEvent(NET, remote(b, "b1", "hi"))).roomId;
    const spaceRoom = await portal(space.key).roomId();
    expect(spaceRoom).not.toBeNull();
    expect(await portal(space.key).ensureSpace(NET, space)).toBe(spaceRoom);
    expect((await state(spaceRoom!, "m.room.create"))?.["type"]).toBe("m.space");
    expect(await state(spaceRoom!, "m.room.name")).toEqual({ name: "Server" });
    expect(await state(spaceRoom!, "m.room.topic")).toMatchObject({ topic: "the server" });
    expect(await mediaBytes((await state(spaceRoom!, "m.room.avatar"))!["url"] as string)).toEqual(new Uint8Array([9, 9, 9]));
    expect(await state(spaceRoom!, "m.room.member", settings.owner)).toMatchObject({ membership: "invite" });
    expect(await state(spaceRoom!, "m.space.child", roomA)).toEqual({ via: [SERVER], order: "0001" });
    expect(await state(spaceRoom!, "m.space.child", roomB)).toEqual({ via: [SERVER] });
    expect(await state(roomA, "m.space.parent", spaceRoom!)).toEqual({ via: [SERVER], canonical: true });
    expect(await state(roomB, "m.space.parent", spaceRoom!)).toEqual({ via: [SERVER], canonical: true });
    expect(network.downloads.filter((u) => u === space.avatarUrl)).toHaveLength(1);
  });

  it("a DM: is_direct on the person's invite, trusted_private_chat; a chat icon becomes m.room.avatar", async () => {
    const key = uniqueKey("dm");
    network.files.set("https://remote/dm.png", new Uint8Array([4, 5]));
    network.chats.set(key, { name: "Alice", isDirect: true, avatarUrl: "https://remote/dm.png" });
    const { roomId } = await portal(key).handleRemoteEvent(NET, remote(key, "d1", "hello"));
    expect(await state(roomId, "m.room.member", settings.owner)).toEqual({ membership: "invite", is_direct: true });
    expect(((await state(roomId, "m.room.power_levels"))!["users"] as Record<string, number>)[settings.owner]).toBe(100);
    expect(await mediaBytes((await state(roomId, "m.room.avatar"))!["url"] as string)).toEqual(new Uint8Array([4, 5]));
    const group = uniqueKey("group");
    const plain = (await portal(group).handleRemoteEvent(NET, remote(group, "g1", "hello"))).roomId;
    expect(await state(plain, "m.room.member", settings.owner)).toEqual({ membership: "invite" });
    expect(await state(plain, "m.room.avatar")).toBeNull();
  });

  it("a portal opened by command, then resynced: only a changed name, topic or avatar is applied", async () => {
    const key = uniqueKey("resync");
    network.files.set("https://remote/icon-2.png", new Uint8Array([7]));
    network.chats.set(key, { name: "before", topic: "t" });
    const roomId = await portal(key).ensurePortal(NET, key);
    expect(await portal(key).ensurePortal(NET, key)).toBe(roomId);
    expect(await portal(key).syncChatInfo(NET)).toBe(false);
    network.chats.set(key, { name: "after", topic: "t", avatarUrl: "https://remote/icon-2.png" });
    expect(await portal(key).syncChatInfo(NET)).toBe(true);
    expect(await state(roomId, "m.room.name")).toEqual({ name: "after" });
    expect(await state(roomId, "m.room.topic")).toMatchObject({ topic: "t" });
    expect(await mediaBytes((await state(roomId, "m.room.avatar"))!["url"] as string)).toEqual(new Uint8Array([7]));
    expect(await portal(key).syncChatInfo(NET)).toBe(false);
    expect(network.downloads.filter((u) => u === "https://remote/icon-2.png")).toHaveLength(1);
  });

  it("a ghost's avatar: uploaded once per distinct URL", async () => {
    const key = uniqueKey("avatar");
    const bob = (avatarUrl: string): RemoteSender => ({ id: remoteUserId(`bob${n}`), displayName: "Bob", avatarUrl });
    const [one, two] = [`https://remote/bob-${n}-1.png`, `https://remote/bob-${n}-2.png`];
    network.files.set(one, new Uint8Array([1]));
    network.files.set(two, new Uint8Array([2]));
    const ghost = `@_testnet_bob${n}:${SERVER}`;
    const avatar = async () => (await call("GET", `/_matrix/client/v3/profile/${enc(ghost)}/avatar_url`, { token: AS_TOKEN })).body["avatar_url"] as string;
    await portal(key).handleRemoteEvent(NET, remote(key, "v1", "one", { sender: bob(one) }));
    const first = await avatar();
    expect(await mediaBytes(first)).toEqual(new Uint8Array([1]));
    await portal(key).handleRemoteEvent(NET, remote(key, "v2", "two", { sender: bob(one) }));
    expect(await avatar()).toBe(first);
    expect(network.downloads.filter((u) => u === one)).toHaveLength(1);
    await portal(key).handleRemoteEvent(NET, remote(key, "v3", "three", { sender: bob(two) }));
    expect(network.downloads.filter((u) => u === two)).toHaveLength(1);
    expect(await mediaBytes(await avatar())).toEqual(new Uint8Array([2]));
  });
});

describe("portal: ghost profiles", () => {
  async function memberEvents(roomId: string, userId: string): Promise<Array<Record<string, unknown>>> {
    const res = await asBot(`/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=f&limit=100`);
    const chunk = res.body["chunk"] as Array<{ type: string; state_key?: string; content: Record<string, unknown> }>;
    return chunk.filter((e) => e.type === "m.room.member" && e.state_key === userId).map((e) => e.content);
  }

  it("a name change without a message renames the ghost where it is, once for every room; where it is not, nothing", async () => {
    const [k1, k2, k3] = [uniqueKey("profile"), uniqueKey("profile"), uniqueKey("profile")];
    const carol: RemoteSender = { id: remoteUserId(`carol${n}`), displayName: "Carol" };
    const ghost = `@_testnet_carol${n}:${SERVER}`;
    const r1 = (await portal(k1).handleRemoteEvent(NET, remote(k1, "p1", "hi", { sender: carol }))).roomId;
    const r2 = (await portal(k2).handleRemoteEvent(NET, remote(k2, "p2", "hi", { sender: carol }))).roomId;
    const r3 = (await portal(k3).handleRemoteEvent(NET, remote(k3, "p3", "hi"))).roomId;
    const renamed = { ...carol, displayName: "Carol (away)" };
    for (const key of [k1, k2, k3]) await portal(key).handleRemoteChange(NET, { kind: "ghost_profile", portalKey: key, sender: renamed });

    expect((await call("GET", `/_matrix/client/v3/profile/${enc(ghost)}`, { token: AS_TOKEN })).body).toEqual({ displayname: "Carol (away)" });
    for (const roomId of [r1, r2]) {
      // The member events follow the profile in the background.
      for (let i = 0; i < 50 && (await state(roomId, "m.room.member", ghost))?.["displayname"] !== "Carol (away)"; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await state(roomId, "m.room.member", ghost)).toMatchObject({ membership: "join", displayname: "Carol (away)" });
      // One member event per change: the second portal to see Carol (or her new name) did not set it again.
      expect(await memberEvents(roomId, ghost)).toEqual([
        { membership: "invite", displayname: "Carol" },
        { membership: "join", displayname: "Carol" },
        { membership: "join", displayname: "Carol (away)" },
      ]);
    }
    expect(await state(r3, "m.room.member", ghost)).toBeNull();
  });
});

describe("portal: pins", () => {
  it("the room's pinned events follow the chat's pins (bridged messages only, in pin order); the same pins again send nothing", async () => {
    const key = uniqueKey("pins");
    const first = await portal(key).handleRemoteEvent(NET, remote(key, "p1", "first"));
    const second = await portal(key).handleRemoteEvent(NET, remote(key, "p2", "second"));
    const pins = (...ids: string[]) => portal(key).handleRemoteChange(NET, { kind: "pins", portalKey: key, messageIds: ids.map(remoteMessageId) });
    expect((await pins("p2", "never-bridged", "p1")).eventIds).toHaveLength(1);
    expect(await state(first.roomId, "m.room.pinned_events")).toEqual({ pinned: [second.eventId, first.eventId] });
    expect((await pins("p2", "never-bridged", "p1")).eventIds).toEqual([]);
    expect((await pins("p1")).eventIds).toHaveLength(1);
    expect(await state(first.roomId, "m.room.pinned_events")).toEqual({ pinned: [first.eventId] });
  });
});

describe("portal: backfill", () => {
  it("a new room starts with the newest N before the live event; gap fill sends only newer ones; a redelivery is not doubled", async () => {
    const key = uniqueKey("backfill");
    const history = [1, 2, 3, 4, 5].map((i) => remote(key, `m${i}`, `message ${i}`, { timestamp: 1_700_000_000_000 + i * 1000 }));
    network.history.set(key, history);
    settings.backfillLimit = 3;
    try {
      const live = await portal(key).handleRemoteEvent(NET, history[4]!);
      expect(live.duplicate).toBe(true);
      const ts = (i: number) => 1_700_000_000_000 + i * 1000;
      expect(await timeline(live.roomId)).toEqual([3, 4, 5].map((i) => ({ body: `message ${i}`, ts: ts(i) })));

      history.push(remote(key, "m6", "message 6", { timestamp: ts(6) }), remote(key, "m7", "message 7", { timestamp: ts(7) }));
      expect(await portal(key).backfill(NET, 10)).toEqual({ sent: 2 });
      expect(await portal(key).backfill(NET, 10)).toEqual({ sent: 0 });
      expect((await portal(key).handleRemoteEvent(NET, history[6]!)).duplicate).toBe(true);
      expect(await timeline(live.roomId)).toEqual([3, 4, 5, 6, 7].map((i) => ({ body: `message ${i}`, ts: ts(i) })));
    } finally {
      settings.backfillLimit = 0;
    }
  });

  it("a message the network took as several: the gap fill starts after the last, their echoes are ours, a redaction deletes all", async () => {
    const key = uniqueKey("split");
    const history = [remote(key, "s1", "before")];
    network.history.set(key, history);
    const { roomId } = await portal(key).handleRemoteEvent(NET, history[0]!);
    const { remoteMessageId: head } = await portal(key).handleMatrixMessage(NET, { eventId: "$split", roomId, sender: settings.owner, content: { msgtype: "m.text", body: "split: long" } });
    // The network's history holds both parts, as the person's own account wrote them.
    history.push(remote(key, head!, "split: lo"), remote(key, `${head}-tail`, "ng"));
    expect(await portal(key).backfill(NET, 10)).toEqual({ sent: 0 });
    history.push(remote(key, "s2", "after"));
    expect(await portal(key).backfill(NET, 10)).toEqual({ sent: 1 });
    // The live echo of the second part is ours too.
    expect((await portal(key).handleRemoteEvent(NET, remote(key, `${head}-tail`, "ng"))).duplicate).toBe(true);
    // Neither part came back as a ghost's message (the Matrix event is the person's own, not in this test's room).
    expect((await timeline(roomId)).map((e) => e.body)).toEqual(["before", "after"]);
    expect(await portal(key).handleMatrixChange(NET, { kind: "redaction", eventId: "$unsplit", roomId, sender: settings.owner, redacts: "$split" })).toEqual({ applied: true });
    expect(network.changes.slice(-2)).toEqual([`${key} delete ${head}`, `${key} delete ${head}-tail`]);
  });

  it("nothing to fill before the room exists", async () => {
    expect(await portal(uniqueKey("nobackfill")).backfill(NET, 10)).toEqual({ sent: 0 });
  });
});

describe("portal: from Matrix", () => {
  async function upload(bytes: Uint8Array): Promise<string> {
    const res = await call("POST", "/_matrix/media/v3/upload?filename=f.bin", { token: ownerToken, rawBody: new TextDecoder("latin1").decode(bytes), headers: { "content-type": "application/octet-stream" } });
    expect(res.status).toBe(200);
    return res.body["content_uri"] as string;
  }

  it("a file reaches the network with its exact bytes; one over the cap is refused, nothing sent", async () => {
    const key = uniqueKey("media");
    const { roomId } = await portal(key).handleRemoteEvent(NET, remote(key, "r1", "hello"));
    const bytes = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) % 128);
    const mxc = await upload(bytes);
    const media = { mxc, filename: "f.bin" };
    const sent = await portal(key).handleMatrixMessage(NET, { eventId: "$media-1", roomId, sender: settings.owner, content: { msgtype: "m.text", body: "" }, media });
    expect(sent.remoteMessageId).toMatch(/^sent-/);
    const got = network.received.at(-1)!.message.media!;
    expect(new Uint8Array(got.bytes!)).toEqual(bytes);
    expect({ mxc: got.mxc, filename: got.filename, mimetype: got.mimetype }).toEqual({ mxc, filename: "f.bin", mimetype: "application/octet-stream" });

    settings.maxMediaBytes = 599;
    try {
      const before = network.received.length;
      const refused = await portal(key).handleMatrixMessage(NET, { eventId: "$media-2", roomId, sender: settings.owner, content: { msgtype: "m.text", body: "" }, media });
      expect(refused).toEqual({ remoteMessageId: null });
      expect(network.received.length).toBe(before);
    } finally {
      delete settings.maxMediaBytes;
    }
  });

  it("read receipts and typing reach the network for mapped events only", async () => {
    const key = uniqueKey("receipts");
    const first = await portal(key).handleRemoteEvent(NET, remote(key, "q1", "read me"));
    expect(await portal(key).handleMatrixReceipt(NET, first.eventId)).toEqual({ applied: true });
    expect(await portal(key).handleMatrixReceipt(NET, "$unknown")).toEqual({ applied: false });
    expect(network.reads.filter((r) => r.key === key)).toEqual([{ key, target: "q1" }]);
    expect(await portal(key).handleMatrixTyping(NET, true)).toEqual({ applied: true });
    expect(network.typing.filter((t) => t.key === key)).toEqual([{ key, typing: true }]);
    expect(await portal(uniqueKey("noroom")).handleMatrixTyping(NET, true)).toEqual({ applied: false });
  });
});

describe("portal: changes", () => {
  it("remote edits, reactions and deletions land on the mapped events; the person's changes reach the network", async () => {
    const key = uniqueKey("changes");
    const { roomId, eventId } = await portal(key).handleRemoteEvent(NET, remote(key, "c1", "typo"));
    const base = { portalKey: key, messageId: remoteMessageId("c1"), timestamp: 1_700_000_001_000 };
    const [edit] = (await portal(key).handleRemoteChange(NET, { ...base, kind: "edit", sender: alice, editId: "1", content: { msgtype: "m.text", body: "fixed" } })).eventIds;
    expect(await eventContent(roomId, edit!)).toEqual({
      msgtype: "m.text",
      body: "* fixed",
      "m.new_content": { msgtype: "m.text", body: "fixed" },
      "m.relates_to": { rel_type: "m.replace", event_id: eventId },
    });
    const [reaction] = (await portal(key).handleRemoteChange(NET, { ...base, kind: "reaction", sender: { id: alice.id }, emoji: "👍" })).eventIds;
    expect(await eventContent(roomId, reaction!)).toEqual({ "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key: "👍" } });
    expect((await portal(key).handleRemoteChange(NET, { ...base, kind: "reaction_remove", sender: { id: alice.id }, emoji: "👍" })).eventIds).toHaveLength(1);
    expect(await eventContent(roomId, reaction!)).toEqual({});
    const custom = { ...base, kind: "reaction" as const, sender: { id: alice.id }, emoji: "mxc://remote/parrot", shortcode: ":parrot:" };
    const [customReaction] = (await portal(key).handleRemoteChange(NET, custom)).eventIds;
    expect(await eventContent(roomId, customReaction!)).toEqual({
      "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key: "mxc://remote/parrot" },
      "com.beeper.reaction.shortcode": ":parrot:",
    });

    await portal(key).handleMatrixMessage(NET, { eventId: "$mine", roomId, sender: settings.owner, content: { msgtype: "m.text", body: "mine" } });
    const mine = (await portal(key).messageMap()).find((r) => r.eventId === "$mine")!.remoteId;
    const change = { roomId, sender: settings.owner };
    expect(await portal(key).handleMatrixChange(NET, { ...change, kind: "edit", eventId: "$e1", targetEventId: "$mine", content: { msgtype: "m.text", body: "mine!" } })).toEqual({ applied: true });
    expect(await portal(key).handleMatrixChange(NET, { ...change, kind: "edit", eventId: "$e2", targetEventId: eventId, content: { msgtype: "m.text", body: "theirs" } })).toEqual({ applied: false });
    expect(await portal(key).handleMatrixChange(NET, { ...change, kind: "reaction", eventId: "$r1", targetEventId: eventId, key: "🎉" })).toEqual({ applied: true });
    expect(await portal(key).handleMatrixChange(NET, { ...change, kind: "redaction", eventId: "$x1", redacts: "$r1" })).toEqual({ applied: true });
    expect(await portal(key).handleMatrixChange(NET, { ...change, kind: "redaction", eventId: "$x2", redacts: "$mine" })).toEqual({ applied: true });
    expect(network.changes.filter((c) => c.startsWith(key))).toEqual([`${key} edit ${mine} mine!`, `${key} react c1 🎉`, `${key} unreact c1 🎉`, `${key} delete ${mine}`]);

    expect((await portal(key).handleRemoteChange(NET, { ...base, kind: "delete" })).eventIds).toHaveLength(1);
    expect(await eventContent(roomId, eventId)).toEqual({});
    expect((await portal(key).messageMap()).filter((r) => r.remoteId === "c1")).toEqual([]);
  });
});

describe("portal: schema", () => {
  it("a version 2 object gains the avatar source and thread root columns, and the extra remote ids table", async () => {
    const stub = portal(uniqueKey("migrate"));
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec(`
        DROP TABLE ghosts; DROP TABLE message_map; DROP TABLE extra_remote_ids;
        CREATE TABLE message_map (remote_id TEXT NOT NULL, part INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL, origin TEXT NOT NULL, PRIMARY KEY (remote_id, part));
        CREATE TABLE ghosts (user_id TEXT PRIMARY KEY, displayname TEXT NOT NULL, joined INTEGER NOT NULL);
        INSERT INTO ghosts VALUES ('@_testnet_old:localhost:8787', 'Old', 1);
        UPDATE meta SET value = '2' WHERE key = 'schema_version';
      `);
      new PortalObject(state, env);
    });
    // The constructor migrates under blockConcurrencyWhile: look once it is done.
    await runInDurableObject(stub, async (_instance, state) => {
      const columns = (table: string) => state.storage.sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray().map((c) => c.name);
      expect(columns("ghosts")).toEqual(["user_id", "displayname", "joined", "avatar_source"]);
      expect(columns("message_map")).toEqual(["remote_id", "part", "event_id", "room_id", "origin", "thread_root"]);
      expect(state.storage.sql.exec("SELECT * FROM ghosts").toArray()).toEqual([{ user_id: "@_testnet_old:localhost:8787", displayname: "Old", joined: 1, avatar_source: null }]);
      expect(columns("extra_remote_ids")).toEqual(["remote_id", "main_remote_id"]);
      expect(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").one().value).toBe("4");
    });
  });
});
