import { type APIDMChannel, type APIUser, ChannelType } from "discord-api-types/v10";
import { EventType, type MatrixClient, type MatrixEvent, MsgType, RelationType } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeDiscord } from "./fake-discord";
import { type BridgeWorld, askBot, messages, ofType, relation, waiters, startBridgeWorld, stopBridgeWorld } from "./bridge-support";

/**
 * The Discord bridge logged in with the person's own user token (opt-in, DISCORD_ALLOW_USER_TOKEN): its own Worker,
 * a fake Discord that knows the person's account, and the person as a matrix-js-sdk client. Their DMs come over by
 * themselves; what they write from Matrix is posted as them.
 */

const USER_TOKEN = "fake-discord-user-token";
const GUILD = "600000000000000001";
const CHANNEL = "700000000000000100";
const DM = "700000000000000900";
const OWNER_LOCALPART = "person";
const OWNER = `@${OWNER_LOCALPART}:localhost`;
const BOT = "@_discord_bot:localhost";
const AS_TOKEN = "discord-as-token";
const HS_TOKEN = "discord-hs-token";
const bob: APIUser = { id: "310000000000000043", username: "bob", discriminator: "0", global_name: null, avatar: null };

let discord: FakeDiscord;
let worker: { child: unknown; baseUrl: string; output(): string };
const { waitFor, waitForAsync } = waiters(() => worker.output());
let world: BridgeWorld | undefined;
let person: MatrixClient;
let managementRoom: string;

/** Says `command` in the management room; resolves with the bot's answer to it. */
const command = (text: string): Promise<string> => askBot(person, managementRoom, BOT, text, waitFor);

const status = async (): Promise<Record<string, unknown>> =>
  (await (await fetch(`${worker.baseUrl}/_bridges/discord/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } })).json()) as Record<string, unknown>;

beforeAll(async () => {
  discord = new FakeDiscord("fake-discord-bot-token");
  discord.userToken = USER_TOKEN;
  discord.heartbeatIntervalMs = 1_000;
  discord.guilds.set(GUILD, { id: GUILD, name: "Test Guild" });
  discord.channels.set(CHANNEL, { id: CHANNEL, type: 0, guild_id: GUILD, name: "general", position: 0 });
  // The person's DM with bob, known to Discord before the login: READY lists it in private_channels.
  const dm: APIDMChannel = { id: DM, type: ChannelType.DM, recipients: [bob], last_message_id: null, name: null };
  discord.channels.set(DM, dm);
  await discord.start();

  world = await startBridgeWorld("discord", {
    ownerLocalpart: OWNER_LOCALPART,
    asToken: AS_TOKEN,
    hsToken: HS_TOKEN,
    registrationExtra: { receive_ephemeral: true },
    vars: {
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
      DISCORD_CDN_BASE_URL: discord.cdnBaseUrl,
      DISCORD_ALLOW_USER_TOKEN: "true",
      DISCORD_BACKFILL_LIMIT: "0",
      BRIDGE_SECRET_KEY: "an e2e key of at least thirty-two characters",
    },
  });
  ({ worker, person } = world);
}, 120_000);

afterAll(async () => {
  stopBridgeWorld(world);
  await discord?.stop();
});

describe("Discord bridge with the person's user token (fake Discord, real Worker, matrix-js-sdk person)", () => {
  let dmRoomId: string;
  let fromBob: { id: string; event: MatrixEvent };

  it("logs in with the user token from the management room, with the terms-of-service warning; IDENTIFY as a client", async () => {
    const { room_id: roomId } = await person.createRoom({ invite: [BOT], is_direct: true });
    managementRoom = roomId;
    await waitFor("the bot joining", () => person.getRoom(roomId)?.getMember(BOT)?.membership === "join");
    // A user token given as a bot's is named as such, and not kept.
    expect(await command(`login ${USER_TOKEN}`)).toBe(
      'That is a user account\'s token, not a bot token. Nothing was changed. To log in as yourself, say "login user <token>" (read its warning first).',
    );
    const answer = await command(`login user ${USER_TOKEN}`);
    expect(answer).toContain(`Logged in as yourself, me (${discord.user.id}), with your user token`);
    expect(answer).toContain("Discord's terms of service forbid (\"self-bots\"). Discord can ban the account for it. Use it at your own risk.");
    await waitForAsync("READY", async () => (await status())["ready"] === true);
    expect(await status()).toMatchObject({ loggedIn: true, loginKind: "user", botUserId: discord.user.id, identifyRemaining: null });
    // GET /gateway, not /gateway/bot; no intents, a client's capabilities and properties.
    expect(discord.gatewayBotCalls).toBe(0);
    expect(discord.identifyData).toHaveLength(1);
    expect(discord.identifyData[0]).not.toHaveProperty("intents");
    expect(discord.identifyData[0]).toMatchObject({ capabilities: 525, compress: false, properties: { os: "Windows", browser: "Chrome", release_channel: "stable" } });
    expect(await command("status")).toBe(`Connected to Discord as user ${discord.user.id} (your own account, with your user token).`);
  });

  it("a friend's DM appears in a direct room from the friend's ghost; channels named from READY's guilds", async () => {
    const sent = discord.userMessage(DM, bob, `hey, see <#${CHANNEL}>`);
    const invited = await waitFor("the DM's invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "bob"));
    expect(invited.getDMInviter()).toBe(BOT);
    dmRoomId = invited.roomId;
    await person.joinRoom(dmRoomId);
    const event = await waitFor("the DM message", () => person.getRoom(dmRoomId) && messages(person.getRoom(dmRoomId)!)[0]);
    // #general: known from the guild in READY (nothing else told the bridge that channel's name).
    expect([event.getSender(), event.getWireContent()["body"]]).toEqual([`@_discord_${bob.id}:localhost`, "hey, see #general"]);
    fromBob = { id: sent.id, event };
  });

  it("the person's reply, edit, reaction and long text go to Discord as the user's own (no webhook); no echo comes back, early, split or gap-filled; a read receipt acks", async () => {
    const room = person.getRoom(dmRoomId)!;
    // The MESSAGE_CREATE of what the bridge posts reaches it 300 ms before the REST answer with the message's id.
    discord.echoBeforeAnswerMs = 300;
    const { event_id: mine } = await person.sendEvent(dmRoomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "> <@_discord_310000000000000043:localhost> hey\n\nmy answer",
      "m.relates_to": { "m.in_reply_to": { event_id: fromBob.event.getId()! } },
    });
    const posted = await waitFor("the reply at Discord", () => discord.posted.find((p) => p.channelId === DM));
    expect(posted.message.author.id).toBe(discord.user.id);
    expect(posted.body).toEqual({
      content: "my answer",
      allowed_mentions: { parse: [], users: [], replied_user: true },
      message_reference: { message_id: fromBob.id, channel_id: DM, fail_if_not_exists: false },
      nonce: expect.stringMatching(/^mxb\./),
    });
    discord.echoBeforeAnswerMs = 0;

    await person.sendEvent(dmRoomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "* my better answer",
      "m.new_content": { msgtype: MsgType.Text, body: "my better answer" },
      "m.relates_to": { rel_type: RelationType.Replace, event_id: mine },
    });
    await waitFor("the edit at Discord", () => discord.edited.length === 1);
    expect(discord.edited[0]).toMatchObject({ channelId: DM, messageId: posted.message.id, body: { content: "my better answer" } });

    await person.sendEvent(dmRoomId, EventType.Reaction, { "m.relates_to": { rel_type: RelationType.Annotation, event_id: fromBob.event.getId()!, key: "👍" } });
    await waitFor("the reaction at Discord", () => discord.botReactions.length === 1);
    expect(discord.botReactions).toEqual([{ channelId: DM, messageId: fromBob.id, emoji: "👍", removed: false }]);

    await person.sendReadReceipt(fromBob.event);
    const ack = await waitFor("the ack at Discord", () => discord.acks[0]);
    expect(ack).toEqual({ channelId: DM, messageId: fromBob.id, body: { token: null } });

    // Over 2,000 characters: three posts as the user, each with its own nonce; none of their echoes comes back.
    const long = `${"a".repeat(1_990)} ${"b".repeat(1_990)} ${"c".repeat(500)}`;
    await person.sendTextMessage(dmRoomId, long);
    await waitFor("the long message at Discord", () => discord.posted.filter((p) => p.channelId === DM).length === 4);
    const parts = discord.posted.slice(1);
    expect(parts.map((p) => p.message.author.id)).toEqual([discord.user.id, discord.user.id, discord.user.id]);
    expect(new Set(parts.map((p) => p.body["nonce"])).size).toBe(3);
    expect(parts.map((p) => String(p.body["content"])).join(" ")).toBe(long);
    // A new session (op 9, no resume): the gap fill reads the DM's history, where the parts have no nonce; it starts
    // after the last part, so none of them comes back either.
    discord.invalidateSessions();
    await waitFor("the new session", () => discord.identifies === 2 && discord.connected === 1);

    // After a barrier from bob (same channel, same order): no echo of the message, the edit or the reaction came back.
    discord.userMessage(DM, bob, "barrier");
    await waitFor("the barrier", () => messages(room).some((e) => e.getWireContent()["body"] === "barrier"));
    const ghostOfMe = `@_discord_${discord.user.id}:localhost`;
    expect(messages(room).filter((e) => e.getSender() === ghostOfMe)).toEqual([]);
    expect(ofType(room, "m.reaction").filter((e) => e.getSender() !== OWNER)).toEqual([]);
    expect(messages(room).filter((e) => e.getSender() !== OWNER && relation(e)["rel_type"] === "m.replace")).toEqual([]);
    expect(discord.posted).toHaveLength(4);
    expect(discord.webhookPosts).toHaveLength(0);
  });

  it("a message the user sent from the Discord app appears once, from their own ghost (no double puppeting); a drop resumes the user's session", async () => {
    const room = person.getRoom(dmRoomId)!;
    const [resumes, identifies] = [discord.resumes, discord.identifies];
    // Sent while the connection is down: replayed by the RESUME (with the user token), not lost.
    discord.dropConnections();
    discord.userMessage(DM, discord.user, "sent from my phone");
    discord.userMessage(DM, bob, "second barrier");
    await waitFor("the second barrier", () => messages(room).some((e) => e.getWireContent()["body"] === "second barrier"));
    const fromApp = messages(room).filter((e) => e.getWireContent()["body"] === "sent from my phone");
    expect(fromApp.map((e) => e.getSender())).toEqual([`@_discord_${discord.user.id}:localhost`]);
    expect(discord.resumes).toBeGreaterThan(resumes);
    expect(discord.identifies).toBe(identifies);
  });

  it("a bridged server channel: the person's messages are posted as the user, never through a webhook", async () => {
    expect(await command(`bridge ${CHANNEL}`)).toBe("Bridged #general.");
    discord.userMessage(CHANNEL, bob, "in the server");
    const invited = await waitFor("the channel's invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite" && r.name === "general"));
    await person.joinRoom(invited.roomId);
    await person.sendTextMessage(invited.roomId, "hello server");
    const posted = await waitFor("the message at Discord", () => discord.posted.find((p) => p.channelId === CHANNEL));
    expect([posted.message.author.id, posted.body["content"]]).toEqual([discord.user.id, "hello server"]);
    expect(discord.webhooks.size).toBe(0);
    expect(discord.webhookPosts).toHaveLength(0);
  });
});
