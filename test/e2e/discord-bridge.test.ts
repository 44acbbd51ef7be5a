import { type APIDMChannel, type APIUser, ChannelType } from "discord-api-types/v10";
import { EventType, type MatrixClient, type MatrixEvent, MsgType, RelationType } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeDiscord } from "./fake-discord";
import { type BridgeWorld, askBot, messages, ofType, relation, waiters, startBridgeWorld, stopBridgeWorld } from "./bridge-support";

/**
 * The Discord bridge end to end: its own Worker (own port and state, so other e2e tests are undisturbed) with the
 * bridge enabled and registered as an appservice whose url is the Worker itself, a fake Discord, and the person
 * as a matrix-js-sdk client.
 */

const BOT_TOKEN = "fake-discord-bot-token";
const GUILD = "600000000000000001";
const AS_TOKEN = "discord-as-token";
const HS_TOKEN = "discord-hs-token";
const OWNER_LOCALPART = "person";
const OWNER = `@${OWNER_LOCALPART}:localhost`;

const CHANNEL = "700000000000000100";
const bob: APIUser = { id: "310000000000000043", username: "bob", discriminator: "0", global_name: null, avatar: null };
const alice: APIUser = { id: "310000000000000042", username: "alice", discriminator: "0", global_name: "Alice Anders", avatar: null };

let discord: FakeDiscord;
let worker: { child: unknown; baseUrl: string; output(): string };
const { waitFor, waitForAsync } = waiters(() => worker.output());
let world: BridgeWorld | undefined;
let person: MatrixClient;




const BOT = "@_discord_bot:localhost";

/** Every m.room.message body of a room, oldest first, read with /messages (the SDK's live timeline has gaps). */
async function roomBodies(roomId: string): Promise<string[]> {
  const bodies: string[] = [];
  let from: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ dir: "b", limit: "500", ...(from !== undefined ? { from } : {}) });
    const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${query}`, {
      headers: { authorization: `Bearer ${person.getAccessToken()}` },
    });
    const page = (await res.json()) as { chunk: { type: string; content: { body?: string } }[]; end?: string };
    for (const e of page.chunk) if (e.type === "m.room.message" && typeof e.content.body === "string") bodies.push(e.content.body);
    if (page.end === undefined || page.chunk.length === 0) return bodies.reverse();
    from = page.end;
  }
}

/** Sends an m.room.message with any content (the SDK's types lack some relation fields, e.g. is_falling_back). */
async function sendRaw(roomId: string, content: Record<string, unknown>): Promise<string> {
  const txn = `raw${Date.now()}${Math.random()}`;
  const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${person.getAccessToken()}`, "content-type": "application/json" },
    body: JSON.stringify(content),
  });
  return ((await res.json()) as { event_id: string }).event_id;
}

let managementRoom: string;
/** Says `command` in the management room; resolves with the bot's answer to it. */
const command = (text: string): Promise<string> => askBot(person, managementRoom, BOT, text, waitFor);
const notices = (): string[] => messages(person.getRoom(managementRoom)!).filter((e) => e.getSender() === BOT).map((e) => String(e.getContent()["body"]));

beforeAll(async () => {
  discord = new FakeDiscord(BOT_TOKEN);
  discord.heartbeatIntervalMs = 500;
  discord.channels.set("700000000000000100", { id: "700000000000000100", type: 0, guild_id: "600000000000000001", name: "general", topic: "chit-chat", position: 0 });
  discord.guilds.set("600000000000000001", { id: "600000000000000001", name: "Test Guild" });
  // The bot may not manage webhooks in #general: the person's messages there are the bot's own (the fallback); the
  // webhook test bridges a channel where it may.
  discord.noManageWebhooks.add(CHANNEL);
  await discord.start();

  world = await startBridgeWorld("discord", {
    ownerLocalpart: OWNER_LOCALPART,
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    registrationExtra: { receive_ephemeral: true },
    vars: {
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
      DISCORD_CDN_BASE_URL: discord.cdnBaseUrl,
      DISCORD_GUILD_MEMBERS_INTENT: "true",
      // No DISCORD_BOT_TOKEN: the person logs in from the management room; the token is sealed with this key.
      BRIDGE_SECRET_KEY: "an e2e key of at least thirty-two characters",
    },
  });
  ({ worker, person } = world);
}, 120_000);

afterAll(async () => {
  stopBridgeWorld(world);
  await discord?.stop();
});

describe("Discord bridge (fake Discord, real Worker, matrix-js-sdk person)", () => {
  let roomId: string;

  it("logs in from the management room: the token is checked, then the gateway connects; a guild is bridged by command", async () => {
    const { room_id: dm } = await person.createRoom({ invite: [BOT], is_direct: true });
    managementRoom = dm;
    await waitFor("the bot joining", () => person.getRoom(dm)?.getMember(BOT)?.membership === "join");
    expect(await command("ping")).toBe('Not logged in. Say "login <bot token>".');
    expect(await command("login not-the-token")).toBe("Discord refused that token. Nothing was changed.");
    expect(discord.identifies).toBe(0);
    expect(await command(`login ${BOT_TOKEN}`)).toBe(`Logged in as ${discord.bot.username} (${discord.bot.id}). Connecting to the gateway.`);
    await waitFor("IDENTIFY", () => discord.identifies === 1 && discord.connected === 1);
    expect(await command("list")).toBe(["Test Guild (600000000000000001)", "  #general (700000000000000100)"].join("\n"));
    expect(await command(`bridge ${GUILD}`)).toBe("Bridged Test Guild (600000000000000001): 1 channels (1 new).");
    expect(await command("ping")).toBe(`Connected to Discord as bot user ${discord.bot.id}.`);
    // Commands stay in the management room: nothing went to Discord.
    expect(discord.posted).toHaveLength(0);
  });

  it("connects to the gateway: IDENTIFY with the bot token, then heartbeats from the alarm", async () => {
    await waitFor("IDENTIFY", () => discord.identifies === 1 && discord.connected === 1);
    await waitFor("two heartbeats", () => discord.heartbeats >= 2, 10_000);
    const status = await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } });
    expect(await status.json()).toMatchObject({ enabled: true, connected: true, ready: true, sessionId: "session-1", botUserId: discord.bot.id });
    const wrongToken = await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: "Bearer nope" } });
    expect(wrongToken.status).toBe(403);
  });

  it("brings a Discord message into a portal room the person is invited to, from the author's ghost", async () => {
    const sent = discord.userMessage("700000000000000100", alice, "hello **world**, see <https://example.org>");
    const invited = await waitFor("the portal invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "general"));
    roomId = invited.roomId;
    // The guild is a space the person is invited to as well.
    await waitFor("the guild's space", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "Test Guild"));
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
    // No MANAGE_WEBHOOKS in this channel (403, code 50013): sent as the bot, no webhook made.
    expect(discord.webhooks.size).toBe(0);

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

  it("posts the person's messages through a channel webhook with their name and avatar; replies, threads, files, edits and deletions go through it; no echo", async () => {
    const channelId = "700000000000000101";
    discord.channels.set(channelId, { id: channelId, type: 0, guild_id: GUILD, name: "matrix-users", position: 1 });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7, 7]);
    const avatar = await person.uploadContent(new Blob([png], { type: "image/png" }), { name: "me.png", type: "image/png" });
    await person.setDisplayName("Person Example");
    await person.setAvatarUrl(avatar.content_uri);
    const [postedBefore, editedBefore, deletedBefore] = [discord.posted.length, discord.edited.length, discord.deleted.length];

    expect(await command(`bridge ${channelId}`)).toBe("Bridged #matrix-users.");
    const invited = await waitFor("the portal invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "matrix-users"));
    const hookRoom = invited.roomId;
    await person.joinRoom(hookRoom);
    const target = discord.userMessage(channelId, alice, "hello matrix users");
    const room = await waitFor("the joined room with the message", () => {
      const r = person.getRoom(hookRoom);
      return r && r.getMyMembership() === "join" && messages(r).some((e) => e.getWireContent()["body"] === "hello matrix users") ? r : undefined;
    });
    const targetEvent = messages(room).find((e) => e.getWireContent()["body"] === "hello matrix users")!;

    const { event_id: mine } = await person.sendTextMessage(hookRoom, "through the webhook");
    const post = await waitFor("the webhook post", () => discord.webhookPosts[0]);
    // One webhook, made by the bridge for the channel; executed with ?wait=true, as the person.
    expect([...discord.webhooks.values()].map((w) => [w.name, w.channel_id])).toEqual([["Matrix bridge", channelId]]);
    const hookId = [...discord.webhooks.keys()][0]!;
    expect(post.webhookId).toBe(hookId);
    expect(post.query).toEqual({ wait: "true" });
    expect(post.body).toEqual({ content: "through the webhook", username: "Person Example", avatar_url: expect.any(String), allowed_mentions: { parse: [], users: [] } });
    // The avatar at a public URL the bridge serves (the media repository's is authenticated), only when signed.
    const avatarUrl = String(post.body["avatar_url"]);
    expect(avatarUrl).toMatch(new RegExp(`^${worker.baseUrl}/_bridges/discord/avatar/localhost/[^/]+/[^/]+$`));
    const served = await fetch(avatarUrl);
    expect([served.status, served.headers.get("content-type")]).toEqual([200, "image/png"]);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(png);
    expect((await fetch(avatarUrl.replace(/[^/]+$/, "forged"))).status).toBe(404);

    // A reply: webhooks cannot send message_reference, so a quoted jump link that pings no one.
    await person.sendEvent(hookRoom, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "> <@_discord_310000000000000042:localhost> hello matrix users\n\nagreed",
      "m.relates_to": { "m.in_reply_to": { event_id: targetEvent.getId()! } },
    });
    const replyPost = await waitFor("the reply through the webhook", () => discord.webhookPosts[1]);
    expect(replyPost.body["content"]).toBe(`> [reply to @Alice Anders](https://discord.com/channels/${GUILD}/${channelId}/${target.id})\nagreed`);
    expect(replyPost.body["message_reference"]).toBeUndefined();
    expect(replyPost.body["allowed_mentions"]).toEqual({ parse: [], users: [] });

    // A Matrix thread reply: the same webhook, in the Discord thread (?thread_id=).
    const thread = discord.startThread(channelId, target.id, "about hello");
    await sendRaw(hookRoom, {
      msgtype: MsgType.Text,
      body: "in the thread",
      "m.relates_to": { rel_type: RelationType.Thread, event_id: targetEvent.getId()!, is_falling_back: true, "m.in_reply_to": { event_id: targetEvent.getId()! } },
    });
    const threadPost = await waitFor("the thread post", () => discord.webhookPosts[2]);
    expect([threadPost.webhookId, threadPost.query, threadPost.message.channel_id]).toEqual([hookId, { wait: "true", thread_id: thread.id }, thread.id]);

    // A file: multipart through the webhook.
    const notes = new TextEncoder().encode("notes from matrix\n");
    const upload = await person.uploadContent(new Blob([notes], { type: "text/plain" }), { name: "notes.txt", type: "text/plain" });
    await person.sendEvent(hookRoom, EventType.RoomMessage, { msgtype: MsgType.File, body: "notes.txt", url: upload.content_uri, info: { mimetype: "text/plain", size: notes.byteLength } });
    const filePost = await waitFor("the file through the webhook", () => discord.webhookPosts[3]);
    expect(filePost.files.map((f) => [f.filename, Buffer.from(f.bytes).toString("utf8")])).toEqual([["notes.txt", "notes from matrix\n"]]);
    expect(filePost.body["username"]).toBe("Person Example");

    // Edit and redaction of the person's message: PATCH / DELETE /webhooks/{id}/{token}/messages/{id}.
    await person.sendEvent(hookRoom, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "* through the webhook, edited",
      "m.new_content": { msgtype: MsgType.Text, body: "through the webhook, edited" },
      "m.relates_to": { rel_type: RelationType.Replace, event_id: mine },
    });
    const edit = await waitFor("the edit through the webhook", () => discord.webhookEdits[0]);
    expect(edit).toMatchObject({ webhookId: hookId, messageId: post.message.id, body: { content: "through the webhook, edited" } });
    await person.redactEvent(hookRoom, mine);
    const deletion = await waitFor("the deletion through the webhook", () => discord.webhookDeletes[0]);
    expect([deletion.webhookId, deletion.messageId]).toEqual([hookId, post.message.id]);

    // No echo: the webhook's MESSAGE_CREATE / UPDATE / DELETE brought nothing back, and nothing went as the bot.
    discord.userMessage(channelId, alice, "webhook barrier");
    await waitFor("the barrier", () => messages(room).some((e) => e.getWireContent()["body"] === "webhook barrier"));
    expect(messages(room).filter((e) => e.getSender() !== OWNER).map((e) => e.getWireContent()["body"])).toEqual(["hello matrix users", "webhook barrier"]);
    expect(ofType(room, "m.room.redaction").map((e) => e.getSender())).toEqual([OWNER]);
    expect([discord.posted.length, discord.edited.length, discord.deleted.length]).toEqual([postedBefore, editedBefore, deletedBefore]);
    expect(discord.webhookPosts).toHaveLength(4);
    expect(discord.webhooks.size).toBe(1);
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

  it("carries a 5 MB image both ways, byte for byte", async () => {
    const room = person.getRoom(roomId)!;
    const big = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 65_536) crypto.getRandomValues(big.subarray(i, i + 65_536));
    big.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

    discord.userMessage(CHANNEL, alice, "", [], undefined, [discord.attachment("big.png", "image/png", big, { width: 2048, height: 640 })]);
    const fromDiscord = await waitFor("the big image in Matrix", () => messages(room).find((e) => e.getWireContent()["body"] === "big.png"), 60_000);
    expect(fromDiscord.getWireContent()).toMatchObject({ msgtype: "m.image", info: { mimetype: "image/png", size: big.byteLength, w: 2048, h: 640 } });
    const mxc = String(fromDiscord.getWireContent()["url"]).slice("mxc://".length);
    const res = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${mxc}`, { headers: { authorization: `Bearer ${person.getAccessToken()}` } });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(big))).toBe(true);

    const postedBefore = discord.posted.length;
    const upload = await person.uploadContent(new Blob([big], { type: "image/png" }), { name: "from-matrix.png", type: "image/png" });
    await person.sendEvent(roomId, EventType.RoomMessage, { msgtype: MsgType.Image, body: "from-matrix.png", url: upload.content_uri, info: { mimetype: "image/png", size: big.byteLength } });
    const posted = await waitFor("the upload at Discord", () => discord.posted[postedBefore], 60_000);
    expect(posted.files.map((f) => [f.filename, f.contentType, f.bytes.byteLength])).toEqual([["from-matrix.png", "image/png", big.byteLength]]);
    expect(Buffer.from(posted.files[0]!.bytes).equals(Buffer.from(big))).toBe(true);
    // Its echo (with the attachment) does not come back.
    discord.userMessage(CHANNEL, alice, "after the big files");
    await waitFor("the next message", () => messages(room).some((e) => e.getWireContent()["body"] === "after the big files"));
    expect(messages(room).filter((e) => e.getSender() !== OWNER && e.getWireContent()["body"] === "from-matrix.png")).toHaveLength(0);
  }, 120_000);

  it("threads both ways: a Discord thread is a Matrix thread on its starter message, and a Matrix thread reply goes to the Discord thread", async () => {
    const room = person.getRoom(roomId)!;
    const root = discord.userMessage(CHANNEL, alice, "thread starter");
    const rootEvent = await waitFor("the thread's root", () => messages(room).find((e) => e.getWireContent()["body"] === "thread starter"));
    const thread = discord.startThread(CHANNEL, root.id, "a topic");
    discord.userMessage(thread.id, bob, "inside the thread");
    const inThread = await waitFor("the thread message", () => messages(room).find((e) => e.getWireContent()["body"] === "inside the thread"));
    expect(relation(inThread)).toEqual({ rel_type: "m.thread", event_id: rootEvent.getId(), is_falling_back: true, "m.in_reply_to": { event_id: rootEvent.getId() } });

    const postedBefore = discord.posted.length;
    await sendRaw(roomId, {
      msgtype: MsgType.Text,
      body: "my thread answer",
      "m.relates_to": { rel_type: RelationType.Thread, event_id: rootEvent.getId()!, is_falling_back: true, "m.in_reply_to": { event_id: inThread.getId()! } },
    });
    const answer = await waitFor("the answer in the Discord thread", () => discord.posted[postedBefore]);
    expect(answer.channelId).toBe(thread.id);
    expect(answer.body["content"]).toBe("my thread answer");

    // A Matrix thread on a message that has no Discord thread yet starts one on it.
    const plain = discord.userMessage(CHANNEL, alice, "no thread here yet");
    const plainEvent = await waitFor("the message", () => messages(room).find((e) => e.getWireContent()["body"] === "no thread here yet"));
    await sendRaw(roomId, {
      msgtype: MsgType.Text,
      body: "starting a thread",
      "m.relates_to": { rel_type: RelationType.Thread, event_id: plainEvent.getId()!, is_falling_back: true, "m.in_reply_to": { event_id: plainEvent.getId()! } },
    });
    const started = await waitFor("the new thread's first message", () => discord.posted[postedBefore + 1]);
    expect(started.channelId).toBe(plain.id);
    expect(discord.channels.get(plain.id)).toMatchObject({ type: 11, parent_id: CHANNEL });
    // Neither echo came back.
    discord.userMessage(CHANNEL, alice, "after the threads");
    await waitFor("the next message", () => messages(room).some((e) => e.getWireContent()["body"] === "after the threads"));
    expect(messages(room).filter((e) => e.getSender() !== OWNER && ["my thread answer", "starting a thread"].includes(String(e.getWireContent()["body"])))).toHaveLength(0);
  });

  it("a ghost gets its Discord avatar; a channel's new name and topic reach its room (CHANNEL_UPDATE)", async () => {
    const room = person.getRoom(roomId)!;
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9, 9, 9]);
    const carol = discord.setAvatar({ id: "310000000000000044", username: "carol", discriminator: "0", global_name: "Carol", avatar: null }, png);
    discord.userMessage(CHANNEL, carol, "I have a face");
    await waitFor("carol's message", () => messages(room).some((e) => e.getWireContent()["body"] === "I have a face"));
    const profile = await person.getProfileInfo(`@_discord_${carol.id}:localhost`);
    expect(profile).toMatchObject({ displayname: "Carol", avatar_url: expect.stringMatching(/^mxc:\/\/localhost\//) });
    const res = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${profile.avatar_url!.slice("mxc://".length)}`, { headers: { authorization: `Bearer ${person.getAccessToken()}` } });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(png);

    discord.updateChannel(CHANNEL, { name: "renamed", topic: "new topic" });
    await waitFor("the new name", () => room.name === "renamed");
    await waitFor("the new topic", () => room.currentState.getStateEvents("m.room.topic", "")?.getContent()["topic"] === "new topic");
  });

  it("a nickname change without a message renames the ghost in the person's room (GUILD_MEMBERS intent)", async () => {
    const room = person.getRoom(roomId)!;
    const aliceGhost = `@_discord_${alice.id}:localhost`;
    // IDENTIFY asked for the privileged intent (GUILD_MEMBERS, 1 << 1) because the setting is on.
    expect(Number(discord.identifyData[0]!["intents"]) & (1 << 1)).toBe(1 << 1);
    discord.memberUpdate(GUILD, alice, "Ali the Great");
    await waitFor("the ghost's new name", () => room.getMember(aliceGhost)?.name === "Ali the Great");
    expect((await person.getProfileInfo(aliceGhost)).displayname).toBe("Ali the Great");
  });

  it("pins in Discord pin the messages in the room (m.room.pinned_events, in pin order); an unpin takes it out", async () => {
    const room = person.getRoom(roomId)!;
    const first = discord.userMessage(CHANNEL, alice, "pin me first");
    const second = discord.userMessage(CHANNEL, alice, "pin me second");
    const eventOf = (body: string) => waitFor(body, () => messages(room).find((e) => e.getWireContent()["body"] === body));
    const [firstEvent, secondEvent] = [await eventOf("pin me first"), await eventOf("pin me second")];
    const pinned = () => room.currentState.getStateEvents("m.room.pinned_events", "")?.getContent()["pinned"] as string[] | undefined;
    discord.pin(CHANNEL, second.id);
    discord.pin(CHANNEL, first.id);
    await waitFor("both pinned", () => pinned()?.length === 2);
    expect(pinned()).toEqual([secondEvent.getId(), firstEvent.getId()]);
    discord.pin(CHANNEL, second.id, false);
    await waitFor("the unpin", () => pinned()?.length === 1);
    expect(pinned()).toEqual([firstEvent.getId()]);
  });

  it("a custom emoji shows as an inline image, uploaded from the CDN once", async () => {
    const room = person.getRoom(roomId)!;
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 5, 5]);
    const path = discord.customEmoji("1300000000000000001", png);
    discord.userMessage(CHANNEL, alice, "so <:blobcat:1300000000000000001>");
    discord.userMessage(CHANNEL, alice, "<:blobcat:1300000000000000001> again");
    const [first, second] = await waitFor("both emoji messages", () => {
      const found = messages(room).filter((e) => String(e.getWireContent()["body"]).includes(":blobcat:"));
      return found.length === 2 ? found : undefined;
    });
    expect(first!.getWireContent()["body"]).toBe("so :blobcat:");
    const html = String(first!.getWireContent()["formatted_body"]);
    const mxc = /^so <img data-mx-emoticon src="(mxc:\/\/localhost\/[^"]+)" alt=":blobcat:" title=":blobcat:" height="32">$/.exec(html)?.[1];
    expect(mxc).toBeDefined();
    expect(second!.getWireContent()["formatted_body"]).toBe(`<img data-mx-emoticon src="${mxc}" alt=":blobcat:" title=":blobcat:" height="32"> again`);
    const res = await fetch(`${worker.baseUrl}/_matrix/client/v1/media/download/${mxc!.slice("mxc://".length)}`, { headers: { authorization: `Bearer ${person.getAccessToken()}` } });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(png);
    expect(discord.downloads.get(path)).toBe(1);
  });

  it("a custom-emoji reaction shows with the emoji's mxc key (the image uploaded once); that key from Matrix reacts with name:id", async () => {
    const room = person.getRoom(roomId)!;
    const target = discord.userMessage(CHANNEL, alice, "react to me with blobcat");
    const targetEvent = await waitFor("the message", () => messages(room).find((e) => e.getWireContent()["body"] === "react to me with blobcat"));
    discord.reactCustom(CHANNEL, target.id, bob, { id: "1300000000000000001", name: "blobcat" });
    const reaction = await waitFor("the reaction", () => ofType(room, "m.reaction").find((e) => relation(e)["event_id"] === targetEvent.getId()));
    const key = String(relation(reaction)["key"]);
    expect([reaction.getSender(), key]).toEqual([`@_discord_${bob.id}:localhost`, expect.stringMatching(/^mxc:\/\/localhost\//)]);
    expect(reaction.getContent()["com.beeper.reaction.shortcode"]).toBe(":blobcat:");
    // The image the text's inline emoji uses: not downloaded again.
    expect(discord.downloads.get("/emojis/1300000000000000001.png")).toBe(1);

    await person.sendEvent(roomId, EventType.Reaction, { "m.relates_to": { rel_type: RelationType.Annotation, event_id: targetEvent.getId()!, key } });
    const sentReaction = await waitFor("the reaction at Discord", () => discord.botReactions.find((r) => r.messageId === target.id));
    expect(sentReaction).toEqual({ channelId: CHANNEL, messageId: target.id, emoji: "blobcat:1300000000000000001", removed: false });
  });

  it("a 4,500-character message from Matrix arrives as 3 Discord messages, in order, and none of them echoes back", async () => {
    const room = person.getRoom(roomId)!;
    const postedBefore = discord.posted.length;
    // 90 lines of 49 characters and a "!": 40 lines fit in a message (1,999 characters), then 40, then 10.
    const text = `${Array.from({ length: 90 }, (_, i) => `line ${String(i).padStart(2, "0")} ${"y".repeat(41)}`).join("\n")}!`;
    expect(text).toHaveLength(4500);
    await person.sendTextMessage(roomId, text);
    const parts = await waitFor("three messages at Discord", () => (discord.posted.length >= postedBefore + 3 ? discord.posted.slice(postedBefore) : undefined));
    expect(parts.map((p) => [p.channelId, String(p.body["content"]).length])).toEqual([
      [CHANNEL, 1999],
      [CHANNEL, 1999],
      [CHANNEL, 500],
    ]);
    expect(parts.map((p) => p.body["content"]).join("\n")).toBe(text);
    // Discord echoed all three (the bot's own messages): a later message shows they were handled, and dropped.
    discord.userMessage(CHANNEL, alice, "after the long one");
    await waitFor("the next message", () => messages(room).some((e) => e.getWireContent()["body"] === "after the long one"));
    expect(messages(room).filter((e) => String(e.getWireContent()["body"]).startsWith("line ")).map((e) => e.getSender())).toEqual([OWNER]);
    expect(discord.posted).toHaveLength(postedBefore + 3);
  });

  it("a DM to the bot is bridged by itself, as a direct room", async () => {
    const dm = "700000000000000900";
    const channel: APIDMChannel = { id: dm, type: ChannelType.DM, recipients: [bob], last_message_id: null, name: null };
    discord.channels.set(dm, channel);
    discord.userMessage(dm, bob, "psst, in private");
    const invited = await waitFor("the DM's invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "bob"));
    expect(invited.getDMInviter()).toBe(BOT);
    await person.joinRoom(invited.roomId);
    const event = await waitFor("the DM message", () => person.getRoom(invited.roomId) && messages(person.getRoom(invited.roomId)!)[0]);
    expect([event.getSender(), event.getWireContent()["body"]]).toEqual([`@_discord_${bob.id}:localhost`, "psst, in private"]);
  });

  it("shows the person typing in Discord", async () => {
    await person.sendTyping(roomId, true, 5_000);
    await waitFor("POST /typing", () => discord.typingCalls.includes(CHANNEL));
  });

  /** 1,000 messages; the connection breaks after 400 (`interrupt`), the rest are sent while it is down. */
  async function burst(label: string, interrupt: () => void): Promise<void> {
    const sent: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i === 400) interrupt();
      sent.push(discord.userMessage(CHANNEL, alice, `${label} ${i}`).content);
    }
    const room = person.getRoom(roomId)!;
    // The last one in the live timeline, then the whole room read back (its pace is the benchmark's business).
    await waitFor(`${label} 999`, () => messages(room).some((e) => e.getWireContent()["body"] === `${label} 999`), 300_000);
    const got = (await roomBodies(roomId)).filter((b) => b.startsWith(`${label} `));
    // Exactly once each, in Discord's order.
    expect(got).toEqual(sent);
  }

  it("a 1,000-message burst with the gateway dropped in the middle: resumed, every message once, in order", async () => {
    const identifies = discord.identifies;
    const postedBefore = discord.posted.length;
    await burst("resume", () => discord.dropConnections());
    expect(discord.resumes).toBeGreaterThanOrEqual(2);
    expect(discord.identifies).toBe(identifies);
    // No echo loop: nothing went back to Discord.
    expect(discord.posted).toHaveLength(postedBefore);
  }, 400_000);

  it("the same burst with the session invalidated (op 9, no resume): re-identified, the gap filled from history, every message once, in order", async () => {
    const identifies = discord.identifies;
    const postedBefore = discord.posted.length;
    const thread = [...discord.channels.values()].find((c) => c.type === ChannelType.PublicThread && c.parent_id === CHANNEL)!;
    await burst("invalid", () => {
      discord.invalidateSessions();
      // Said in a thread while there is no session: only the thread's history has it.
      discord.userMessage(thread.id, bob, "in a thread, during the gap");
    });
    expect((await roomBodies(roomId)).filter((b) => b === "in a thread, during the gap")).toHaveLength(1);
    expect(discord.identifies).toBe(identifies + 1);
    expect(discord.posted).toHaveLength(postedBefore);
    const status = (await (await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } })).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ connected: true, ready: true, invalidSessions: 0, fatalError: null });
  }, 400_000);

  it("respects the daily identify budget: with none left, it waits for the reset instead of identifying", async () => {
    const identifies = discord.identifies;
    const asked = discord.gatewayBotCalls;
    discord.sessionStartLimit = { remaining: 0, reset_after: 2_000 };
    discord.invalidateSessions();
    // After the invalid session's backoff, it reads the budget, and finds none.
    await waitFor("GET /gateway/bot", () => discord.gatewayBotCalls > asked);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(discord.identifies).toBe(identifies);
    discord.sessionStartLimit = { remaining: 999, reset_after: 0 };
    await waitFor("the IDENTIFY after the reset", () => discord.identifies === identifies + 1 && discord.connected === 1);
    // Read until connected: under load a 500 ms heartbeat can miss its ACK, and the bridge then resumes on a new
    // connection (not an IDENTIFY: the count above stays exact).
    let status: Record<string, unknown> = {};
    await waitForAsync("the bridge connected", async () => {
      status = (await (await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } })).json()) as Record<string, unknown>;
      return status["connected"] === true;
    });
    expect(status).toMatchObject({ connected: true, identifyRemaining: 998 });
    expect(discord.identifies).toBe(identifies + 1);
  });

  it("a revoked token (close 4004): one notice in the management room, no reconnect loop; a new login recovers with a notice", async () => {
    const noticesBefore = notices().length;
    discord.revokeToken();
    const notice = await waitFor("the notice", () => notices().slice(noticesBefore)[0]);
    expect(notice).toContain("Discord closed the gateway with code 4004");
    // Some heartbeat intervals later: no reconnect attempt, no second notice.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(discord.refusedIdentifies).toBe(0);
    expect(discord.connected).toBe(0);
    expect(notices().slice(noticesBefore)).toEqual([notice]);
    expect(await command("status")).toContain("code 4004");

    discord.setToken("a-new-token");
    const identifies = discord.identifies;
    expect(await command("login a-new-token")).toBe(`Logged in as ${discord.bot.username} (${discord.bot.id}). Connecting to the gateway.`);
    await waitFor("the recovery notice", () => notices().some((n) => n === `Connected to Discord again as bot user ${discord.bot.id}.`));
    expect(discord.identifies).toBe(identifies + 1);
  });
});
