import { createHash, randomBytes } from "node:crypto";
import { EventType, type MatrixClient, type MatrixEvent, MsgType, RelationType } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "./fake-slack";
import { type BridgeWorld, messages, ofType, relation, waiters, startBridgeWorld, stopBridgeWorld } from "./bridge-support";

/**
 * The Slack bridge end to end: its own Worker (own port and state) with the bridge enabled and registered as an
 * appservice whose url is the Worker itself, a fake Slack (Web API, signed Events API deliveries, Socket Mode), and
 * the person as a matrix-js-sdk client. The user token is configured, so the person's messages are their own.
 */

const BOT_TOKEN = "xoxb-fake-slack-bot-token";
const USER_TOKEN = "xoxp-fake-slack-user-token";
const APP_TOKEN = "xapp-fake-slack-app-token";
const SIGNING_SECRET = "fake-slack-signing-secret";
const AS_TOKEN = "slack-as-token";
const CLIENT_ID = "1111.2222";
const CLIENT_SECRET = "fake-client-secret";
const HS_TOKEN = "slack-hs-token";
const OWNER_LOCALPART = "person";
const OWNER = `@${OWNER_LOCALPART}:localhost`;
const BOT = "@_slack_bot:localhost";
const CHANNEL = "C0100";
const ALICE = "U0042";
const BOB = "U0043";
const ALICE_GHOST = "@_slack_t0001_u0042:localhost";
const BOB_GHOST = "@_slack_t0001_u0043:localhost";

// The SDK logs every request at debug level; keep test output readable. (It is a loglevel logger underneath.)
(logger as unknown as { setLevel(level: string): void }).setLevel("warn");

let slack: FakeSlack;
let worker: { child: unknown; baseUrl: string; output(): string };
const { waitFor } = waiters(() => worker.output());
let world: BridgeWorld | undefined;
let person: MatrixClient;
let accessToken: string;
let managementRoom: string;



const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const callsOf = (method: string) => slack.webApiCalls.filter((c) => c.method === method);

interface BridgeStatus {
  bot: { teamId: string; userId: string; botId: string | null } | null;
  eventsAccepted: number;
  duplicatesDropped: number;
  portals: number;
  installs: { teamId: string; teamName: string }[];
  pending: number;
  socket: { enabled: boolean; connected: boolean; hellos: number; drops: number; gapFills: number };
}

async function bridgeStatus(): Promise<BridgeStatus> {
  const res = await fetch(`${worker.baseUrl}/_bridges/slack/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } });
  return (await res.json()) as BridgeStatus;
}

/** Delivers a Slack event and waits until the bridge has bridged everything it holds (its inbox is empty). */
async function deliverAndSettle(envelope: Parameters<FakeSlack["deliver"]>[0]): Promise<void> {
  expect(await slack.deliver(envelope)).toBe(200);
  for (;;) {
    if ((await bridgeStatus()).pending === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A sync token for now (a fresh /sync with an empty timeline filter). */
async function syncToken(): Promise<string> {
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }));
  const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/sync?filter=${filter}`, { headers: { authorization: `Bearer ${accessToken}` } });
  return ((await res.json()) as { next_batch: string }).next_batch;
}

/** The contents of the room's m.room.message events after `from`, oldest first, through /messages. */
async function roomContents(room: string, from: string): Promise<Record<string, unknown>[]> {
  const contents: Record<string, unknown>[] = [];
  let token: string | undefined = from;
  while (token !== undefined) {
    const filter = encodeURIComponent(JSON.stringify({ types: ["m.room.message"] }));
    const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=f&limit=500&filter=${filter}&from=${encodeURIComponent(token)}`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const page = (await res.json()) as { chunk: { content: Record<string, unknown> }[]; end?: string };
    contents.push(...page.chunk.map((e) => e.content));
    token = page.chunk.length === 0 ? undefined : page.end;
  }
  return contents;
}

/** The bodies of the room's m.room.message events after `from`, oldest first. */
async function roomBodies(room: string, from: string): Promise<string[]> {
  return (await roomContents(room, from)).map((c) => String(c["body"]));
}

beforeAll(async () => {
  slack = new FakeSlack({ bot: BOT_TOKEN, user: USER_TOKEN, app: APP_TOKEN }, SIGNING_SECRET);
  await slack.start();
  slack.users.set(ALICE, { id: ALICE, name: "alice", real_name: "Alice Anders", profile: { display_name: "Alice Anders", real_name: "Alice Anders", image_512: `${slack.origin}/avatars/${ALICE}.png` } });
  slack.users.set(BOB, { id: BOB, name: "bob", profile: { display_name: "Bob", real_name: "Bob Brown" } });
  slack.users.set(slack.bot.userId, { id: slack.bot.userId, name: "inbox-bridge", profile: { display_name: "", real_name: "Inbox bridge" } });
  slack.channels.set(CHANNEL, { id: CHANNEL, name: "general", topic: { value: "chit-chat" } });

  world = await startBridgeWorld("slack", {
    ownerLocalpart: OWNER_LOCALPART,
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    registrationExtra: { "de.sorunome.msc2409.push_ephemeral": true },
    vars: {
      SLACK_API_BASE_URL: slack.apiBaseUrl,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_USER_TOKEN: USER_TOKEN,
      SLACK_APP_TOKEN: APP_TOKEN,
      SLACK_CLIENT_ID: CLIENT_ID,
      SLACK_CLIENT_SECRET: CLIENT_SECRET,
      BRIDGE_SECRET_KEY: "slack-e2e-bridge-secret-key-of-32-characters-at-least",
    },
  });
  ({ worker, person } = world);
  // Events go to the Events API route first; the Socket Mode test switches to the socket.
  slack.eventsUrl = `${worker.baseUrl}/_bridges/slack/events`;

  accessToken = world.accessToken;
}, 120_000);

afterAll(async () => {
  stopBridgeWorld(world);
  await slack?.stop();
});

describe("Slack bridge (fake Slack, real Worker, matrix-js-sdk person)", () => {
  let roomId: string;
  const first = () => slack.userMessage(CHANNEL, ALICE, "hello *world* :tada:, see <https://example.org|the site> &amp; `a_b` <@U0043>");
  let firstDelivery: ReturnType<typeof first>;
  let root: MatrixEvent;

  it("answers Slack's url_verification challenge", async () => {
    const body = JSON.stringify({ token: "t", challenge: "the-challenge", type: "url_verification" });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { createHmac } = await import("node:crypto");
    const signature = `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    const res = await fetch(slack.eventsUrl, { method: "POST", headers: { "x-slack-request-timestamp": timestamp, "x-slack-signature": signature }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: "the-challenge" });
  });

  it("refuses a delivery with a bad signature or an old timestamp, and nothing changes", async () => {
    firstDelivery = first();
    expect(await slack.deliver(firstDelivery, { forgeSignature: true })).toBe(401);
    expect(await slack.deliver(firstDelivery, { ageSeconds: 6 * 60 })).toBe(401);
    // Give a wrongly accepted delivery time to show.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await bridgeStatus()).toMatchObject({ bot: null, eventsAccepted: 0, duplicatesDropped: 0, portals: 0, pending: 0 });
    expect(slack.calls.filter((m) => m !== "apps.connections.open")).toEqual([]);
    expect(person.getRooms()).toEqual([]);
  });

  it("brings a Slack message (delivered once and retried three times) into the portal once, from the author's named ghost with its avatar", async () => {
    // The same event the refused deliveries carried: they did not mark it seen.
    expect(await slack.deliver(firstDelivery)).toBe(200);
    for (const retryNum of [1, 2, 3]) expect(await slack.deliver(firstDelivery, { retryNum })).toBe(200);
    const invited = await waitFor("the portal invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "general"));
    roomId = invited.roomId;
    await person.joinRoom(roomId);

    const room = await waitFor("the joined portal with the message", () => {
      const r = person.getRoom(roomId);
      return r && r.getMyMembership() === "join" && messages(r).length > 0 ? r : undefined;
    });
    const [event] = messages(room);
    root = event!;
    expect(event!.getSender()).toBe(ALICE_GHOST);
    expect(event!.getContent()).toEqual({
      msgtype: "m.text",
      body: "hello *world* 🎉, see the site (https://example.org) & `a_b` Bob",
      format: "org.matrix.custom.html",
      formatted_body: `hello <strong>world</strong> 🎉, see <a href="https://example.org">the site</a> &amp; <code>a_b</code> <a href="https://matrix.to/#/${BOB_GHOST}">Bob</a>`,
      "m.mentions": { user_ids: [BOB_GHOST] },
    });
    // ?ts=: the Slack message's time (its ts), not the bridging time.
    expect(event!.getTs()).toBe(Math.floor(Number(firstDelivery.event["ts"]) * 1000));
    // The ghost is named and has its avatar (from users.info) before its first message.
    expect(room.getMember(ALICE_GHOST)?.name).toBe("Alice Anders");
    const profile = await person.getProfileInfo(ALICE_GHOST);
    expect(profile.avatar_url).toMatch(/^mxc:\/\/localhost\//);
    expect(room.currentState.getStateEvents("m.bridge")[0]!.getContent()).toMatchObject({
      bridgebot: BOT,
      protocol: { id: "slack" },
      channel: { id: `T0001:${CHANNEL}` },
    });
    expect(room.currentState.getStateEvents("m.room.topic")[0]?.getContent()["topic"]).toBe("chit-chat");
    const status = await bridgeStatus();
    expect(status).toMatchObject({ bot: { teamId: "T0001", userId: "U0BOT", botId: "B0BOT" }, eventsAccepted: 1, duplicatesDropped: 3, portals: 1 });
    // auth.test once (then remembered); users.info once per user.
    expect(slack.calls.filter((m) => m === "auth.test")).toHaveLength(1);
    expect(callsOf("users.info").map((c) => c.args["user"]).sort()).toEqual([ALICE, BOB]);
  });

  it("sends the person's message as the person (user token), waiting out a 429, and its echo does not come back", async () => {
    slack.rateLimitNext = 1;
    await person.sendHtmlMessage(roomId, "hi from **matrix**", "hi from <strong>matrix</strong> &amp; <em>you</em>");
    const posted = await waitFor("the message at Slack", () => slack.posted[0]);
    expect(posted).toMatchObject({ channel: CHANNEL, text: "hi from *matrix* &amp; _you_", token: "user" });
    expect(slack.rateLimited).toBe(1);

    await deliverAndSettle(slack.userMessage(CHANNEL, ALICE, "after the echo"));
    const room = person.getRoom(roomId)!;
    await waitFor("the later message", () => messages(room).some((e) => e.getContent()["body"] === "after the echo"));
    expect(messages(room).map((e) => [e.getSender(), e.getContent()["body"]])).toEqual([
      [ALICE_GHOST, "hello *world* 🎉, see the site (https://example.org) & `a_b` Bob"],
      [OWNER, "hi from **matrix**"],
      [ALICE_GHOST, "after the echo"],
    ]);
    expect(slack.posted).toHaveLength(1);
  });

  it("brings thread replies, edits, deletions and reactions from Slack, each exactly once", async () => {
    const room = person.getRoom(roomId)!;
    const rootTs = String(firstDelivery.event["ts"]);
    const reply = slack.userMessage(CHANNEL, BOB, "in the thread", { thread_ts: rootTs });
    await deliverAndSettle(reply);
    await deliverAndSettle(reply);
    const inThread = await waitFor("the thread reply", () => messages(room).find((e) => e.getContent()["body"] === "in the thread"));
    expect(inThread.getSender()).toBe(BOB_GHOST);
    expect(relation(inThread)).toMatchObject({ rel_type: "m.thread", event_id: root.getId() });

    const edit = slack.editMessage(CHANNEL, rootTs, "hello _again_");
    await deliverAndSettle(edit);
    await deliverAndSettle(edit);
    const edits = () => messages(room).filter((e) => relation(e)["rel_type"] === "m.replace");
    const replacement = await waitFor("the edit", () => edits()[0]);
    expect(replacement.getSender()).toBe(ALICE_GHOST);
    expect(replacement.getWireContent()["m.new_content"]).toEqual({ msgtype: "m.text", body: "hello _again_", format: "org.matrix.custom.html", formatted_body: "hello <em>again</em>", "m.mentions": {} });

    const thumbs = slack.reaction("reaction_added", CHANNEL, rootTs, BOB, "+1::skin-tone-2");
    await deliverAndSettle(thumbs);
    await deliverAndSettle(thumbs);
    const reaction = await waitFor("the reaction", () => ofType(room, "m.reaction")[0]);
    expect(reaction.getSender()).toBe(BOB_GHOST);
    expect(relation(reaction)).toEqual({ rel_type: "m.annotation", event_id: root.getId(), key: "👍🏻" });
    await deliverAndSettle(slack.reaction("reaction_removed", CHANNEL, rootTs, BOB, "+1::skin-tone-2"));
    await waitFor("the reaction's redaction", () => reaction.isRedacted());

    const doomed = slack.userMessage(CHANNEL, ALICE, "delete me");
    await deliverAndSettle(doomed);
    const doomedEvent = await waitFor("the doomed message", () => messages(room).find((e) => e.getContent()["body"] === "delete me"));
    const deletion = slack.deleteMessage(CHANNEL, String(doomed.event["ts"]));
    await deliverAndSettle(deletion);
    await deliverAndSettle(deletion);
    await waitFor("the deletion", () => doomedEvent.isRedacted());

    await deliverAndSettle(slack.userMessage(CHANNEL, ALICE, "barrier one"));
    await waitFor("the barrier", () => messages(room).some((e) => e.getContent()["body"] === "barrier one"));
    expect(edits()).toHaveLength(1);
    expect(ofType(room, "m.reaction")).toHaveLength(1);
    expect(ofType(room, "m.room.redaction")).toHaveLength(2);
    expect(messages(room).filter((e) => e.getContent()["body"] === "in the thread")).toHaveLength(1);
    expect(slack.posted).toHaveLength(1);
  });

  it("renames the portal room and changes its topic when the Slack channel's change", async () => {
    const room = person.getRoom(roomId)!;
    await deliverAndSettle(slack.renameChannel(CHANNEL, "general-renamed"));
    await waitFor("the new room name", () => room.name === "general-renamed");
    await deliverAndSettle(slack.setTopic(CHANNEL, BOB, "a new topic"));
    await waitFor("the new topic", () => room.currentState.getStateEvents("m.room.topic", "")?.getContent()["topic"] === "a new topic");
    // The topic change is a change of the room, not a message from Bob's ghost.
    expect(messages(room).some((e) => String(e.getContent()["body"]).includes("set the channel topic"))).toBe(false);
  });

  it("shows custom workspace emoji (and their aliases) as inline images, uploaded once, emoji.list asked once", async () => {
    const room = person.getRoom(roomId)!;
    slack.emoji.set("partyparrot", slack.emojiUrl("partyparrot"));
    slack.emoji.set("parrot_alias", "alias:partyparrot");
    await deliverAndSettle(slack.userMessage(CHANNEL, ALICE, "ship it :partyparrot: :parrot_alias: :tada:"));
    await deliverAndSettle(slack.userMessage(CHANNEL, BOB, "again :partyparrot:"));
    const first = await waitFor("the emoji message", () => messages(room).find((e) => e.getContent()["body"] === "ship it :partyparrot: :parrot_alias: 🎉"));
    const second = await waitFor("the second one", () => messages(room).find((e) => e.getContent()["body"] === "again :partyparrot:"));
    const mxc = /src="(mxc:\/\/[^"]+)"/.exec(String(first.getContent()["formatted_body"]))?.[1];
    expect(mxc).toMatch(/^mxc:\/\/localhost\//);
    const img = (name: string) => `<img data-mx-emoticon src="${mxc}" alt=":${name}:" title=":${name}:" height="32">`;
    expect(first.getContent()["formatted_body"]).toBe(`ship it ${img("partyparrot")} ${img("parrot_alias")} 🎉`);
    expect(second.getContent()["formatted_body"]).toBe(`again ${img("partyparrot")}`);
    const download = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${mxc!.replace("mxc://", "")}`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(Buffer.from(await download.arrayBuffer())).toEqual(slack.emojiImage("partyparrot.png"));
    expect(callsOf("emoji.list")).toHaveLength(1);
  });

  it("a Slack user joining or leaving the channel moves their ghost in or out of the room", async () => {
    const room = person.getRoom(roomId)!;
    const membership = () => room.getMember(BOB_GHOST)?.membership;
    await deliverAndSettle(slack.membership("member_left_channel", CHANNEL, BOB));
    await waitFor("Bob's ghost leaving", () => membership() === "leave");
    await deliverAndSettle(slack.membership("member_joined_channel", CHANNEL, BOB));
    await waitFor("Bob's ghost joining again", () => membership() === "join");
  });

  it("a Slack user's new display name renames their ghost in the room without a message; a status change does nothing", async () => {
    const room = person.getRoom(roomId)!;
    const bob = slack.users.get(BOB)!;
    await deliverAndSettle(slack.userChange({ ...bob, profile: { ...bob.profile, display_name: "Bobby" } }));
    await waitFor("Bob's ghost renamed", () => room.getMember(BOB_GHOST)?.rawDisplayName === "Bobby");
    const before = room.getLiveTimeline().getEvents().length;
    await deliverAndSettle(slack.userChange({ ...slack.users.get(BOB)!, real_name: "Bobby B." }));
    await deliverAndSettle(slack.userMessage(CHANNEL, ALICE, "after Bob's status"));
    const after = await waitFor("the next message", () => {
      const events = room.getLiveTimeline().getEvents().slice(before);
      return events.some((e) => e.getContent()["body"] === "after Bob's status") ? events : undefined;
    });
    expect(after.filter((e) => e.getType() === "m.room.member")).toEqual([]);
  });

  it("sends the person's thread reply, edit, reaction and redactions to Slack, each once, without their echoes coming back", async () => {
    const room = person.getRoom(roomId)!;
    const rootTs = String(firstDelivery.event["ts"]);
    const { event_id: mine } = await person.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "my thread answer",
      "m.relates_to": { rel_type: RelationType.Thread, event_id: root.getId()!, is_falling_back: true, "m.in_reply_to": { event_id: root.getId()! } },
    } as never);
    const answer = await waitFor("the thread reply at Slack", () => slack.posted[1]);
    expect(answer).toMatchObject({ channel: CHANNEL, text: "my thread answer", thread_ts: rootTs, token: "user" });

    await person.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "* my thread answer, edited",
      "m.new_content": { msgtype: MsgType.Text, body: "my thread answer, edited" },
      "m.relates_to": { rel_type: RelationType.Replace, event_id: mine },
    } as never);
    await waitFor("chat.update", () => callsOf("chat.update").length === 1);
    expect(callsOf("chat.update")[0]).toMatchObject({ token: "user", args: { channel: CHANNEL, ts: answer.ts, text: "my thread answer, edited" } });

    const { event_id: reactionId } = await person.sendEvent(roomId, EventType.Reaction, {
      "m.relates_to": { rel_type: RelationType.Annotation, event_id: root.getId()!, key: "❤️" },
    });
    await waitFor("reactions.add", () => callsOf("reactions.add").length === 1);
    expect(callsOf("reactions.add")[0]).toMatchObject({ token: "user", args: { channel: CHANNEL, timestamp: rootTs, name: "heart" } });
    await person.redactEvent(roomId, reactionId);
    await waitFor("reactions.remove", () => callsOf("reactions.remove").length === 1);
    expect(callsOf("reactions.remove")[0]!.args).toEqual({ channel: CHANNEL, timestamp: rootTs, name: "heart" });

    await person.redactEvent(roomId, mine);
    await waitFor("chat.delete", () => callsOf("chat.delete").length === 1);
    expect(callsOf("chat.delete")[0]!.args).toEqual({ channel: CHANNEL, ts: answer.ts });

    const barrier = slack.userMessage(CHANNEL, ALICE, "barrier two");
    await deliverAndSettle(barrier);
    const barrierEvent = await waitFor("the barrier", () => messages(room).find((e) => e.getContent()["body"] === "barrier two"));
    // A read receipt moves the person's Slack read marker (with the user token).
    await person.sendReadReceipt(barrierEvent);
    await waitFor("conversations.mark", () => callsOf("conversations.mark").length > 0);
    expect(callsOf("conversations.mark")[0]).toMatchObject({ token: "user", args: { channel: CHANNEL, ts: barrier.event["ts"] } });
    const fromBridge = (e: MatrixEvent) => e.getSender() !== OWNER;
    // None of the echoes (message_changed, reaction_added, reaction_removed, message_deleted) came back.
    expect(ofType(room, "m.reaction").filter(fromBridge)).toHaveLength(1);
    expect(messages(room).filter((e) => fromBridge(e) && relation(e)["rel_type"] === "m.replace")).toHaveLength(1);
    expect(ofType(room, "m.room.redaction").filter(fromBridge)).toHaveLength(2);
    expect(slack.posted).toHaveLength(2);
    expect(callsOf("chat.update")).toHaveLength(1);
    expect(callsOf("reactions.add")).toHaveLength(1);
    expect(callsOf("chat.delete")).toHaveLength(1);
  });

  it("a custom emoji reaction both ways: its image as the key (with its shortcode) into Matrix, its name back to Slack", async () => {
    const room = person.getRoom(roomId)!;
    const rootTs = String(firstDelivery.event["ts"]);
    await deliverAndSettle(slack.reaction("reaction_added", CHANNEL, rootTs, BOB, "partyparrot"));
    const parrot = await waitFor("the custom reaction", () => ofType(room, "m.reaction").find((e) => e.getContent()["com.beeper.reaction.shortcode"] === ":partyparrot:"));
    const key = String(relation(parrot)["key"]);
    expect(key).toMatch(/^mxc:\/\/localhost\//);
    expect(parrot.getSender()).toBe(BOB_GHOST);
    await person.sendEvent(roomId, EventType.Reaction, { "m.relates_to": { rel_type: RelationType.Annotation, event_id: root.getId()!, key } } as never);
    await waitFor("reactions.add", () => callsOf("reactions.add").find((c) => c.args["name"] === "partyparrot"));
    expect(callsOf("reactions.add").at(-1)).toMatchObject({ token: "user", args: { channel: CHANNEL, timestamp: rootTs, name: "partyparrot" } });
  });

  it("carries a 5 MB file both ways, once each", async () => {
    const room = person.getRoom(roomId)!;
    const fromSlack = randomBytes(5 * 1024 * 1024);
    const share = slack.fileMessage(CHANNEL, ALICE, { name: "report.pdf", mimetype: "application/pdf", bytes: fromSlack });
    await deliverAndSettle(share);
    await deliverAndSettle(share);
    const fileEvent = await waitFor("the file", () => messages(room).find((e) => e.getContent()["msgtype"] === "m.file"), 60_000);
    expect(fileEvent.getSender()).toBe(ALICE_GHOST);
    expect(fileEvent.getContent()).toMatchObject({ body: "report.pdf", filename: "report.pdf", info: { mimetype: "application/pdf", size: fromSlack.length } });
    const mxc = String(fileEvent.getContent()["url"]).replace("mxc://", "");
    const download = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${mxc}`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(fromSlack));
    // Downloaded from url_private with the bot token (the fake refuses it otherwise).

    const fromMatrix = randomBytes(5 * 1024 * 1024);
    const upload = await person.uploadContent(fromMatrix, { name: "data.bin", type: "application/octet-stream" });
    const filesBefore = slack.files.size;
    await person.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.File,
      body: "data.bin",
      filename: "data.bin",
      url: upload.content_uri,
      info: { mimetype: "application/octet-stream", size: fromMatrix.length },
    } as never);
    await waitFor("the upload completed", () => callsOf("files.completeUploadExternal").length === 1, 60_000);
    const uploaded = [...slack.files.values()].slice(filesBefore);
    expect(uploaded).toHaveLength(1);
    expect(sha256(uploaded[0]!.bytes)).toBe(sha256(fromMatrix));
    expect(callsOf("files.completeUploadExternal")[0]!.args).toMatchObject({ channel_id: CHANNEL, files: [{ id: uploaded[0]!.id, title: "data.bin" }] });

    await deliverAndSettle(slack.userMessage(CHANNEL, ALICE, "barrier three"));
    await waitFor("the barrier", () => messages(room).some((e) => e.getContent()["body"] === "barrier three"));
    // One file event each way: the file_share echo of the person's upload was recognised.
    expect(messages(room).filter((e) => e.getContent()["msgtype"] === "m.file").map((e) => e.getSender())).toEqual([ALICE_GHOST, OWNER]);
  }, 120_000);

  it("answers commands in a management room the person invites the bot to", async () => {
    const { room_id: dm } = await person.createRoom({ invite: [BOT], is_direct: true });
    managementRoom = dm;
    await waitFor("the bot joining", () => person.getRoom(dm)?.getMember(BOT)?.membership === "join");
    await person.sendTextMessage(dm, "ping");
    const reply = await waitFor("the bot's answer", () => person.getRoom(dm) && messages(person.getRoom(dm)!).find((e) => e.getSender() === BOT));
    expect(reply.getContent()).toEqual({ msgtype: "m.notice", body: "Connected to Slack workspace T0001 as bot user U0BOT." });
  });

  it("opens another conversation's room on `bridge <channel>`, with its recent history and its threads", async () => {
    slack.channels.set("C0200", { id: "C0200", name: "random" });
    const older = slack.userMessage("C0200", ALICE, "older news");
    slack.userMessage("C0200", BOB, "latest news");
    // A reply in the older message's thread: only conversations.replies has it.
    slack.userMessage("C0200", BOB, "news reply", { thread_ts: String(older.event["ts"]) });
    await person.sendTextMessage(managementRoom, "bridge C0200");
    const reply = await waitFor("the answer", () => messages(person.getRoom(managementRoom)!).find((e) => String(e.getContent()["body"]).startsWith("Bridged C0200")));
    const portal = /(![^ ]+) \(you are invited\)/.exec(String(reply.getContent()["body"]))![1]!;
    await waitFor("the invite", () => person.getRoom(portal)?.getMyMembership() === "invite");
    await person.joinRoom(portal);
    const room = await waitFor("the history", () => {
      const r = person.getRoom(portal);
      return r && messages(r).length >= 3 ? r : undefined;
    });
    expect(room.name).toBe("random");
    expect(messages(room).map((e) => [e.getSender(), e.getContent()["body"]])).toEqual([
      [ALICE_GHOST, "older news"],
      [BOB_GHOST, "latest news"],
      [BOB_GHOST, "news reply"],
    ]);
    const [olderEvent, , threadReply] = messages(room);
    expect(relation(threadReply!)).toMatchObject({ rel_type: "m.thread", event_id: olderEvent!.getId() });
    expect((await bridgeStatus()).portals).toBe(2);
  });

  it("installs the app through OAuth from the management room (login link -> Slack -> callback), then uses the install's tokens", async () => {
    await person.sendTextMessage(managementRoom, "login");
    const reply = await waitFor("the login link", () => messages(person.getRoom(managementRoom)!).find((e) => e.getSender() === BOT && String(e.getContent()["body"]).includes("/oauth/install")));
    const link = /https?:\/\/\S+/.exec(String(reply.getContent()["body"]))![0];
    expect(link.startsWith(`${worker.baseUrl}/_bridges/slack/oauth/install?state=`)).toBe(true);

    const install = await fetch(link, { redirect: "manual" });
    expect(install.status).toBe(302);
    const authorize = new URL(install.headers.get("location")!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${slack.origin}/oauth/v2/authorize`);
    expect(authorize.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(authorize.searchParams.get("scope")?.split(",")).toContain("chat:write");
    expect(authorize.searchParams.get("user_scope")?.split(",")).toContain("chat:write");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${worker.baseUrl}/_bridges/slack/oauth/callback`);

    // The person approves at Slack, which sends the browser back with a code.
    const approved = await fetch(authorize, { redirect: "manual" });
    const callback = approved.headers.get("location")!;
    const done = await fetch(callback);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Installed in Test Workspace");
    expect(callsOf("oauth.v2.access")[0]!.args).toMatchObject({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: `${worker.baseUrl}/_bridges/slack/oauth/callback` });
    // The state and the code work once; a made-up state is refused.
    expect((await fetch(callback)).status).toBe(403);
    expect((await fetch(`${worker.baseUrl}/_bridges/slack/oauth/install?state=forged`, { redirect: "manual" })).status).toBe(403);
    expect((await bridgeStatus()).installs).toEqual([{ teamId: "T0001", teamName: "Test Workspace" }]);

    // From now on the workspace's installed tokens (sealed in the bridge object) are used.
    await person.sendTextMessage(roomId, "with the installed token");
    await waitFor("the post", () => slack.posted.some((p) => p.text === "with the installed token"));
    const post = callsOf("chat.postMessage").filter((c) => c.args["text"] === "with the installed token");
    expect(post).toHaveLength(1);
    expect(post[0]!.bearer).toMatch(/^xoxp-oauth-/);
  });

  it("over Socket Mode: acknowledges every envelope, and after a drop in a burst of 500 messages, gap fill brings all 500 once, in order", async () => {
    await waitFor("the Socket Mode connection", () => slack.socketOpen);
    slack.eventsUrl = "";
    const room = person.getRoom(roomId)!;
    const before = await bridgeStatus();
    const acksBefore = slack.acks.length;
    // Where the room's history stands now: everything after it is read back with /messages (the live timeline of
    // the SDK is cut by limited syncs in a burst).
    const from = await syncToken();
    const burst = Array.from({ length: 500 }, (_, i) => `burst ${i}`);
    const connectionsBefore = slack.socketConnections;
    for (const [i, text] of burst.entries()) {
      if (i === 200) slack.dropSocket();
      await slack.send(slack.userMessage(CHANNEL, ALICE, text));
    }
    await waitFor("the reconnect", () => slack.socketConnections > connectionsBefore, 60_000);
    let bodies: string[] = [];
    const deadline = Date.now() + 120_000;
    while (bodies.length < 500 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      bodies = (await roomBodies(roomId, from)).filter((b) => b.startsWith("burst "));
    }
    expect(bodies).toEqual(burst);
    // Those sent while the socket was down were lost to Slack's retries: the gap fill brought them.
    expect(slack.lost).toBeGreaterThan(0);
    let after = await bridgeStatus();
    // The gap fill's last round (finding nothing more) may still be under way.
    for (let i = 0; i < 100 && after.socket.gapFills === before.socket.gapFills; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await bridgeStatus();
    }
    expect(after.socket).toMatchObject({ enabled: true, connected: true });
    expect(after.socket.gapFills).toBeGreaterThan(before.socket.gapFills);
    expect(after.socket.drops).toBeGreaterThan(before.socket.drops);

    // Slack's polite disconnect: a fresh connection, and events keep coming.
    slack.requestReconnect();
    await waitFor("the second reconnect", () => slack.socketConnections > connectionsBefore + 1 && slack.socketOpen, 60_000);
    await slack.send(slack.userMessage(CHANNEL, ALICE, "after the refresh"));
    await waitFor("the message after the refresh", () => messages(room).some((e) => e.getContent()["body"] === "after the refresh"), 60_000);
    // Every envelope sent on a connection was acknowledged in the end (on its first delivery or a retry).
    await waitFor("every acknowledgement", () => slack.unacked.size === 0, 60_000);
    expect(slack.acks.length).toBeGreaterThan(acksBefore);
    expect((await roomBodies(roomId, from)).filter((b) => b.startsWith("burst "))).toEqual(burst);
  }, 240_000);

  it("over Socket Mode: thread replies posted while the connection is down arrive after the reconnect once each, in order, in their thread", async () => {
    await waitFor("the Socket Mode connection", () => slack.socketOpen, 60_000);
    const rootTs = String(firstDelivery.event["ts"]);
    const from = await syncToken();
    const connectionsBefore = slack.socketConnections;
    const lostBefore = slack.lost;
    slack.dropSocket();
    // Lost with the connection: only gap fill can bring them (the thread's parent is far older than the gap).
    await slack.send(slack.userMessage(CHANNEL, ALICE, "gap reply 1", { thread_ts: rootTs }));
    await slack.send(slack.userMessage(CHANNEL, BOB, "gap reply 2", { thread_ts: rootTs }));
    await slack.send(slack.userMessage(CHANNEL, ALICE, "gap top-level"));
    await slack.send(slack.userMessage(CHANNEL, BOB, "gap reply 3", { thread_ts: rootTs }));
    expect(slack.lost - lostBefore).toBe(4);
    await waitFor("the reconnect", () => slack.socketConnections > connectionsBefore && slack.socketOpen, 60_000);
    const gap = ["gap reply 1", "gap reply 2", "gap top-level", "gap reply 3"];
    const inGap = async () => (await roomContents(roomId, from)).filter((c) => String(c["body"]).startsWith("gap "));
    let arrived: Record<string, unknown>[] = [];
    const deadline = Date.now() + 60_000;
    while (arrived.length < gap.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      arrived = await inGap();
    }
    expect(arrived.map((c) => c["body"])).toEqual(gap);
    const threadOf = (c: Record<string, unknown>) => {
      const rel = (c["m.relates_to"] as Record<string, unknown> | undefined) ?? {};
      return rel["rel_type"] === "m.thread" ? rel["event_id"] : null;
    };
    expect(arrived.map(threadOf)).toEqual([root.getId(), root.getId(), null, root.getId()]);
    // A live message after the gap fill: nothing of the gap came twice.
    await slack.send(slack.userMessage(CHANNEL, ALICE, "after the thread gap"));
    let bodies: string[] = [];
    while (!bodies.includes("after the thread gap") && Date.now() < deadline + 30_000) {
      await new Promise((r) => setTimeout(r, 200));
      bodies = await roomBodies(roomId, from);
    }
    expect(bodies).toEqual([...gap, "after the thread gap"]);
  }, 180_000);

  it("tells the person once in the management room when the tokens are revoked", async () => {
    const dm = person.getRoom(managementRoom)!;
    const revoke = slack.revokeTokens();
    await slack.send(revoke);
    await slack.send(slack.revokeTokens());
    // A Web API call now fails with token_revoked too (the person's message cannot be posted).
    await person.sendTextMessage(roomId, "is anyone there?");
    const notices = () => messages(dm).filter((e) => e.getSender() === BOT && String(e.getContent()["body"]).includes("stopped accepting"));
    await waitFor("the notice", () => notices().length > 0);
    await waitFor("the failed post", () => slack.webApiCalls.some((c) => c.method === "chat.postMessage" && c.token === "other"));
    await new Promise((r) => setTimeout(r, 1000));
    expect(notices()).toHaveLength(1);
  });
});
