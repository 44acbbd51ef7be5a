import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { APIUser } from "discord-api-types/v10";
import { EventType, type MatrixClient, type MatrixEvent, MsgType, RelationType, type Room, createClient } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeDiscord } from "./fake-discord";
import { syncUntilPrepared } from "./client";
import { freePort } from "./global-setup";
// @ts-expect-error: plain ESM helper shared with `npm start` and the benchmark
import { applyMigrations, startWorker, stopWorker } from "../../scripts/worker.mjs";

/**
 * The Discord bridge end to end: its own Worker (own port and state, so other e2e tests are undisturbed) with the
 * bridge enabled and registered as an appservice whose url is the Worker itself, a fake Discord, and the person
 * as a matrix-js-sdk client.
 */

const BOT_TOKEN = "fake-discord-bot-token";
const AS_TOKEN = "discord-as-token";
const HS_TOKEN = "discord-hs-token";
const OWNER_LOCALPART = "person";
const OWNER = `@${OWNER_LOCALPART}:localhost`;

const CHANNEL = "700000000000000100";
const bob: APIUser = { id: "310000000000000043", username: "bob", discriminator: "0", global_name: null, avatar: null };
const alice: APIUser = { id: "310000000000000042", username: "alice", discriminator: "0", global_name: "Alice Anders", avatar: null };

let discord: FakeDiscord;
let worker: { child: unknown; baseUrl: string; output(): string };
let persistTo: string;
let person: MatrixClient;

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- worker output ---\n${worker.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function registration(port: number): string {
  return JSON.stringify([
    {
      id: "discord",
      url: `http://127.0.0.1:${port}/_bridges/discord`,
      as_token: "${DISCORD_AS_TOKEN}",
      hs_token: "${DISCORD_HS_TOKEN}",
      sender_localpart: "_discord_bot",
      rate_limited: false,
      namespaces: { users: [{ exclusive: true, regex: "@_discord_.*:localhost" }] },
    },
  ]);
}

const ofType = (room: Room, type: string): MatrixEvent[] => room.getLiveTimeline().getEvents().filter((e) => e.getType() === type);
const relation = (e: MatrixEvent): Record<string, unknown> => (e.getWireContent()["m.relates_to"] ?? {}) as Record<string, unknown>;
const messages = (room: Room): MatrixEvent[] => room.getLiveTimeline().getEvents().filter((e) => e.getType() === "m.room.message");

beforeAll(async () => {
  discord = new FakeDiscord(BOT_TOKEN);
  discord.heartbeatIntervalMs = 500;
  discord.channels.set("700000000000000100", { id: "700000000000000100", type: 0, guild_id: "600000000000000001", name: "general", topic: "chit-chat", position: 0 });
  discord.guilds.set("600000000000000001", { id: "600000000000000001", name: "Test Guild" });
  await discord.start();

  persistTo = mkdtempSync(path.join(tmpdir(), "matrix-discord-e2e-"));
  applyMigrations(persistTo);
  const port = await freePort();
  worker = await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: {
      RATE_LIMIT_ENABLED: "false",
      SERVER_NAME: "localhost",
      PUBLIC_BASEURL: `http://127.0.0.1:${port}/`,
      APPSERVICE_RETRY_MAX_MS: "1000",
      APPSERVICES: registration(port),
      DISCORD_BRIDGE_ENABLED: "true",
      DISCORD_BRIDGE_OWNER: OWNER,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_AS_TOKEN: AS_TOKEN,
      DISCORD_HS_TOKEN: HS_TOKEN,
    },
  });

  const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: OWNER_LOCALPART, password: "discord e2e password", auth: { type: "m.login.dummy" } }),
  });
  const session = (await res.json()) as { access_token: string; user_id: string; device_id: string };
  person = createClient({ baseUrl: worker.baseUrl, accessToken: session.access_token, userId: session.user_id, deviceId: session.device_id });
  await syncUntilPrepared(person, 20);
}, 120_000);

afterAll(async () => {
  person?.stopClient();
  if (worker) stopWorker(worker.child);
  await discord?.stop();
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe("Discord bridge (fake Discord, real Worker, matrix-js-sdk person)", () => {
  let roomId: string;

  it("connects to the gateway by itself: IDENTIFY with the bot token, then heartbeats", async () => {
    await waitFor("IDENTIFY", () => discord.identifies === 1 && discord.connected === 1);
    await waitFor("two heartbeats", () => discord.heartbeats >= 2, 10_000);
    const status = await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } });
    expect(await status.json()).toMatchObject({ enabled: true, connected: true, ready: true, sessionId: "session-1", botUserId: discord.bot.id });
    const wrongToken = await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: "Bearer nope" } });
    expect(wrongToken.status).toBe(403);
  });

  it("brings a Discord message into a portal room the person is invited to, from the author's ghost", async () => {
    const sent = discord.userMessage("700000000000000100", alice, "hello **world**, see <https://example.org>");
    const invited = await waitFor("the portal invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite"));
    roomId = invited.roomId;
    expect(invited.name).toBe("general");
    // Invited, not force-joined.
    expect(invited.getMember(OWNER)?.membership).toBe("invite");
    await person.joinRoom(roomId);

    const room = await waitFor("the joined portal with the message", () => {
      const r = person.getRoom(roomId);
      return r && r.getMyMembership() === "join" && messages(r).length > 0 ? r : undefined;
    });
    const [event] = messages(room);
    const ghost = `@_discord_${alice.id}:localhost`;
    expect(event!.getSender()).toBe(ghost);
    expect(event!.getContent()).toEqual({
      msgtype: "m.text",
      body: "hello **world**, see <https://example.org>",
      format: "org.matrix.custom.html",
      formatted_body: 'hello <strong>world</strong>, see <a href="https://example.org">https://example.org</a>',
    });
    // ?ts=: the Discord message's time, not the bridging time.
    expect(event!.getTs()).toBe(Date.parse(sent.timestamp));
    // The display name was set before the first message.
    expect(room.getMember(ghost)?.name).toBe("Alice Anders");
    const bridgeState = room.currentState.getStateEvents("m.bridge");
    expect(bridgeState).toHaveLength(1);
    expect(bridgeState[0]!.getContent()).toMatchObject({ bridgebot: "@_discord_bot:localhost", protocol: { id: "discord" }, channel: { id: "700000000000000100" } });
    expect(room.currentState.getStateEvents("uk.half-shot.bridge")).toHaveLength(1);
  });

  it("sends the person's message to Discord (waiting out a 429), and does not bring its echo back", async () => {
    discord.rateLimitNext = 1;
    await person.sendHtmlMessage(roomId, "hi from **matrix**", "hi from <strong>matrix</strong>");
    const posted = await waitFor("the message at Discord", () => discord.posted.find((p) => p.channelId === "700000000000000100"));
    expect(posted.body["content"]).toBe("hi from **matrix**");
    expect(posted.body["allowed_mentions"]).toEqual({ parse: [], users: [] });
    expect(discord.rateLimited).toBe(1);

    // Discord echoed the bot's message on the gateway. A later message shows the echo was processed (in order) first.
    discord.userMessage("700000000000000100", alice, "after the echo");
    const room = person.getRoom(roomId)!;
    await waitFor("the later message", () => messages(room).some((e) => e.getContent()["body"] === "after the echo"));
    const bodies = messages(room).map((e) => [e.getSender(), e.getContent()["body"]]);
    expect(bodies).toEqual([
      [`@_discord_${alice.id}:localhost`, "hello **world**, see <https://example.org>"],
      [OWNER, "hi from **matrix**"],
      [`@_discord_${alice.id}:localhost`, "after the echo"],
    ]);
    expect(discord.posted).toHaveLength(1);
  });

  it("answers commands in a management room the person invites the bot to", async () => {
    const bot = "@_discord_bot:localhost";
    const { room_id: dm } = await person.createRoom({ invite: [bot], is_direct: true });
    await waitFor("the bot joining", () => person.getRoom(dm)?.getMember(bot)?.membership === "join");
    await person.sendTextMessage(dm, "ping");
    const reply = await waitFor("the bot's answer", () =>
      person.getRoom(dm) && messages(person.getRoom(dm)!).find((e) => e.getSender() === bot),
    );
    expect(reply.getContent()).toEqual({ msgtype: "m.notice", body: `Connected to Discord as bot user ${discord.bot.id}.` });
    // Not a portal: nothing went to Discord.
    expect(discord.posted).toHaveLength(1);
  });

  it("resumes the stored session after the connection drops, without losing what was sent meanwhile", async () => {
    discord.dropConnections();
    await waitFor("the drop", () => discord.connected === 0);
    discord.userMessage("700000000000000100", alice, "while you were away");
    // At least one: a reload of the Worker (a deploy) in between also resumes.
    await waitFor("RESUME", () => discord.resumes >= 1 && discord.connected === 1, 20_000);
    const room = person.getRoom(roomId)!;
    await waitFor("the missed message", () => messages(room).some((e) => e.getContent()["body"] === "while you were away"));
    expect(discord.identifies).toBe(1);
  });

  it("brings typing, replies, edits, reactions and deletions over from Discord, each exactly once", async () => {
    const room = person.getRoom(roomId)!;
    const aliceGhost = `@_discord_${alice.id}:localhost`;
    const bobGhost = `@_discord_${bob.id}:localhost`;
    const original = discord.userMessage(CHANNEL, alice, "first version");
    const originalEvent = await waitFor("the original", () => messages(room).find((e) => e.getWireContent()["body"] === "first version"));

    discord.typing(CHANNEL, alice);
    await waitFor("the ghost typing", () => room.getMember(aliceGhost)?.typing === true);

    const reply = discord.userMessage(CHANNEL, bob, "a reply", [], original.id);
    const replyEvent = await waitFor("the reply", () => messages(room).find((e) => e.getWireContent()["body"] === "a reply"));
    expect(replyEvent.getSender()).toBe(bobGhost);
    expect(relation(replyEvent)).toEqual({ "m.in_reply_to": { event_id: originalEvent.getId() } });

    const edited = discord.editMessage(original, "second **version**");
    // Redelivered (a RESUME replays): still one edit.
    discord.dispatch("MESSAGE_UPDATE", edited);
    const edits = () => messages(room).filter((e) => relation(e)["rel_type"] === "m.replace");
    const edit = await waitFor("the edit", () => edits()[0]);
    expect(edit.getSender()).toBe(aliceGhost);
    expect(edit.getWireContent()).toEqual({
      msgtype: "m.text",
      body: "* second **version**",
      format: "org.matrix.custom.html",
      formatted_body: "* second <strong>version</strong>",
      "m.new_content": { msgtype: "m.text", body: "second **version**", format: "org.matrix.custom.html", formatted_body: "second <strong>version</strong>" },
      "m.relates_to": { rel_type: "m.replace", event_id: originalEvent.getId() },
    });

    discord.react(CHANNEL, original.id, bob, "👍");
    discord.react(CHANNEL, original.id, bob, "👍");
    const reaction = await waitFor("the reaction", () => ofType(room, "m.reaction")[0]);
    expect(reaction.getSender()).toBe(bobGhost);
    expect(relation(reaction)).toEqual({ rel_type: "m.annotation", event_id: originalEvent.getId(), key: "👍" });
    discord.react(CHANNEL, original.id, bob, "👍", true);
    await waitFor("the reaction's redaction", () => reaction.isRedacted());

    discord.deleteMessage(CHANNEL, original.id);
    await waitFor("the original's redaction", () => originalEvent.isRedacted());
    // A later message shows everything before it was handled: nothing was sent twice.
    discord.userMessage(CHANNEL, alice, "the end");
    await waitFor("the last message", () => messages(room).some((e) => e.getWireContent()["body"] === "the end"));
    expect(edits()).toHaveLength(1);
    expect(ofType(room, "m.reaction")).toHaveLength(1);
    expect(ofType(room, "m.room.redaction").map((e) => e.event.redacts)).toEqual([reaction.getId(), originalEvent.getId()]);
    expect(ofType(room, "m.room.redaction").map((e) => e.getSender())).toEqual([bobGhost, "@_discord_bot:localhost"]);
    expect(replyEvent.isRedacted()).toBe(false);
    expect(reply.id).not.toBe(original.id);
    // Nothing of this went back to Discord.
    expect(discord.posted).toHaveLength(1);
  });

  it("sends the person's replies, edits, reactions and redactions to Discord, each once, without their echoes coming back", async () => {
    const room = person.getRoom(roomId)!;
    const postedBefore = discord.posted.length;
    const target = discord.userMessage(CHANNEL, alice, "reply to me");
    const targetEvent = await waitFor("the message to answer", () => messages(room).find((e) => e.getWireContent()["body"] === "reply to me"));

    // A reply (with the fallback older clients still send): a Discord reply to the right message, without the quote.
    await person.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "> <@_discord_310000000000000042:localhost> reply to me\n\nmy answer",
      "m.relates_to": { "m.in_reply_to": { event_id: targetEvent.getId()! } },
    });
    const answer = await waitFor("the reply at Discord", () => discord.posted[postedBefore]);
    expect(answer.body["content"]).toBe("my answer");
    expect(answer.body["message_reference"]).toEqual({ message_id: target.id, channel_id: CHANNEL, fail_if_not_exists: false });
    expect(answer.body["allowed_mentions"]).toEqual({ parse: [], users: [], replied_user: true });

    // An edit of the person's own message: PATCH, once; its MESSAGE_UPDATE echo is not brought back.
    const { event_id: mine } = await person.sendTextMessage(roomId, "typo hree");
    const minePosted = await waitFor("the message at Discord", () => discord.posted[postedBefore + 1]);
    await person.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "* typo here",
      "m.new_content": { msgtype: MsgType.Text, body: "typo here" },
      "m.relates_to": { rel_type: RelationType.Replace, event_id: mine },
    });
    const edit = await waitFor("the edit at Discord", () => discord.edited[0]);
    expect(edit).toMatchObject({ channelId: CHANNEL, messageId: minePosted.message.id, body: { content: "typo here" } });

    // A reaction: PUT .../reactions/{emoji}/@me; then its redaction: DELETE; the bot's own reaction events are echoes.
    const { event_id: reactionId } = await person.sendEvent(roomId, EventType.Reaction, {
      "m.relates_to": { rel_type: RelationType.Annotation, event_id: targetEvent.getId()!, key: "🎉" },
    });
    await waitFor("the reaction at Discord", () => discord.botReactions.length === 1);
    await person.redactEvent(roomId, reactionId);
    await waitFor("the reaction removed at Discord", () => discord.botReactions.length === 2);
    expect(discord.botReactions).toEqual([
      { channelId: CHANNEL, messageId: target.id, emoji: "🎉", removed: false },
      { channelId: CHANNEL, messageId: target.id, emoji: "🎉", removed: true },
    ]);

    // A redaction of the person's message deletes it at Discord; the MESSAGE_DELETE echo redacts nothing more.
    const redactionsBefore = ofType(room, "m.room.redaction").length;
    await person.redactEvent(roomId, mine);
    await waitFor("the deletion at Discord", () => discord.deleted.length === 1);
    expect(discord.deleted).toEqual([{ channelId: CHANNEL, messageId: minePosted.message.id }]);

    discord.userMessage(CHANNEL, alice, "barrier");
    await waitFor("the barrier message", () => messages(room).some((e) => e.getWireContent()["body"] === "barrier"));
    const fromBridge = (e: MatrixEvent) => e.getSender() !== OWNER;
    expect(ofType(room, "m.reaction").filter(fromBridge)).toHaveLength(1);
    expect(messages(room).filter((e) => fromBridge(e) && relation(e)["rel_type"] === "m.replace")).toHaveLength(1);
    expect(ofType(room, "m.room.redaction").slice(redactionsBefore).map((e) => e.getSender())).toEqual([OWNER]);
    expect(discord.posted).toHaveLength(postedBefore + 2);
    expect(discord.edited).toHaveLength(1);
    expect(discord.deleted).toHaveLength(1);
    expect(discord.botReactions).toHaveLength(2);
  });

  it("brings Discord attachments into the media repository as the ghost, as m.image / m.file with info, once", async () => {
    const room = person.getRoom(roomId)!;
    const ghost = `@_discord_${alice.id}:localhost`;
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
    const text = new TextEncoder().encode("meeting notes\n");
    const image = discord.attachment("cat.png", "image/png", png, { width: 640, height: 480 });
    const notes = discord.attachment("notes.txt", "text/plain; charset=utf-8", text);
    const sent = discord.userMessage(CHANNEL, alice, "two files", [], undefined, [image, notes]);
    // Redelivered: still one event per part, one download per file.
    discord.dispatch("MESSAGE_CREATE", sent);

    const media = await waitFor("both files", () => {
      const found = messages(room).filter((e) => ["m.image", "m.file"].includes(String(e.getWireContent()["msgtype"])));
      return found.length >= 2 ? found : undefined;
    });
    const [imageEvent, fileEvent] = media;
    expect(imageEvent!.getSender()).toBe(ghost);
    expect(imageEvent!.getWireContent()).toEqual({
      msgtype: "m.image",
      body: "cat.png",
      filename: "cat.png",
      url: expect.stringMatching(/^mxc:\/\/localhost\//),
      info: { mimetype: "image/png", size: png.byteLength, w: 640, h: 480 },
    });
    expect(fileEvent!.getWireContent()).toEqual({
      msgtype: "m.file",
      body: "notes.txt",
      filename: "notes.txt",
      url: expect.stringMatching(/^mxc:\/\/localhost\//),
      info: { mimetype: "text/plain; charset=utf-8", size: text.byteLength },
    });
    // The text first, then the files, all at the message's time.
    const bodies = messages(room).slice(-3).map((e) => e.getWireContent()["body"]);
    expect(bodies).toEqual(["two files", "cat.png", "notes.txt"]);
    expect(imageEvent!.getTs()).toBe(Date.parse(sent.timestamp));

    // The person downloads the very bytes, through the authenticated media API.
    for (const [event, bytes] of [[imageEvent!, png], [fileEvent!, text]] as const) {
      const mxc = String(event.getWireContent()["url"]).slice("mxc://".length);
      const res = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${mxc}`, { headers: { authorization: `Bearer ${person.getAccessToken()}` } });
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    }

    discord.userMessage(CHANNEL, alice, "after the files");
    await waitFor("the next message", () => messages(room).some((e) => e.getWireContent()["body"] === "after the files"));
    expect(messages(room).filter((e) => e.getWireContent()["body"] === "two files")).toHaveLength(1);
    expect(messages(room).filter((e) => ["m.image", "m.file"].includes(String(e.getWireContent()["msgtype"])))).toHaveLength(2);
    expect([...discord.downloads.values()]).toEqual([1, 1]);
  });
});
