import { describe, expect, it } from "vitest";
import { portalKey, remoteMessageId } from "../../core/ids";
import { testConfig } from "./fixtures/config";
import { type ChannelWebhook, type DiscordLoginSource, DiscordNetworkApi } from "../network-api";
import * as fixtures from "./fixtures/messages";

const config = testConfig();

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/**
 * A fake Discord answering by "METHOD path" (query included), recording every call with its body. The login's
 * webhook store: `webhooks` when given (a test of the webhook way), else every channel is known to have none.
 */
function fakeDiscord(routes: Record<string, () => Response>, webhooks?: Map<string, ChannelWebhook | null>, threads: string[] = []) {
  const calls: { route: string; body: BodyInit | null | undefined }[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const route = `${init?.method ?? "GET"} ${String(input).replace("https://d.test", "")}`;
    calls.push({ route, body: init?.body });
    return routes[route]?.() ?? json({ message: "Unknown", code: 10003 }, 404);
  }) as typeof fetch;
  const login: DiscordLoginSource = {
    credentials: async () => ({ token: "tok", kind: "bot" }),
    names: async () => ({ channels: { "222": "general" }, roles: {}, emojis: {} }),
    webhook: async (channelId) => (webhooks === undefined ? "none" : webhooks.has(channelId) ? (webhooks.get(channelId) ?? "none") : null),
    saveWebhook: async (channelId, hook) => void webhooks?.set(channelId, hook),
    webhookSender: async (_roomId, userId) => (userId === "@me:example.org" ? { displayName: "Me, from Discord land", avatarUrl: "https://hs.test/avatar/me" } : {}),
    // The bridge's bot is user 5; its webhook in channel 1 is 4.
    ownAuthors: async () => ({ botUserId: "5", webhookIds: ["4"] }),
    // One custom emoji image uploaded: blobcat (1099).
    customEmojiOfMxc: async (mxc) => (mxc === "mxc://example.org/blobcat" ? { id: "1099", name: "blobcat" } : null),
    activeThreads: async (channelId) => (channelId === "1" ? threads : []),
  };
  const api = new DiscordNetworkApi(config, login, fetcher);
  return { api, calls };
}

const message = (id: string, content: string) => ({ ...fixtures.plain, id, content, channel_id: "1" });
const sent = (id: string, channelId: string) => () => json({ id, channel_id: channelId, timestamp: "2024-01-01T00:00:00.000Z" });

describe("the Discord network API", () => {
  it("fetchMessages pages forward from `after` (100 at a time), oldest first, converted like live messages", async () => {
    const first = Array.from({ length: 100 }, (_, i) => message(String(1000 + i), `m${i}`)).reverse();
    const { api, calls } = fakeDiscord({
      "GET /channels/1/messages?limit=100&after=999": () => json(first),
      "GET /channels/1/messages?limit=100&after=1099": () => json([message("1101", "see <#222>"), message("1100", "")]),
    });
    const got = await api.fetchMessages(portalKey("1"), remoteMessageId("999"), 1000);
    expect(calls.map((c) => c.route)).toEqual(["GET /channels/1/messages?limit=100&after=999", "GET /channels/1/messages?limit=100&after=1099"]);
    // The empty message (nothing to show) is left out; names come from the gateway's knowledge.
    expect(got.map((m) => m.messageId)).toEqual([...Array.from({ length: 100 }, (_, i) => String(1000 + i)), "1101"]);
    expect(got[100]).toMatchObject({ portalKey: "1", content: { body: "see #general" }, sender: { displayName: "Cadence" } });
  });

  it("fetchMessages without `after`: the newest `limit`, paging back with `before`; a thread message id pages from its snowflake", async () => {
    const { api, calls } = fakeDiscord({
      "GET /channels/1/messages?limit=3": () => json([message("30", "c"), message("20", "b"), message("10", "a")]),
      "GET /channels/1/messages?limit=100&after=77": () => json([]),
    });
    expect((await api.fetchMessages(portalKey("1"), null, 3)).map((m) => m.content.body)).toEqual(["a", "b", "c"]);
    expect(await api.fetchMessages(portalKey("1"), remoteMessageId("55/77"), 500)).toEqual([]);
    expect(calls.map((c) => c.route)).toEqual(["GET /channels/1/messages?limit=3", "GET /channels/1/messages?limit=100&after=77"]);
  });

  it("chat info: a guild channel in its guild's space, ordered; a DM is direct, with the other person's avatar", async () => {
    const { api } = fakeDiscord({
      "GET /channels/1": () => json({ id: "1", type: 0, guild_id: "9", name: "general", topic: "hi", position: 1 }),
      "GET /guilds/9": () => json({ id: "9", name: "Guild", icon: "abc" }),
      "GET /guilds/9/channels": () => json([{ id: "2", type: 0, guild_id: "9", name: "rules", position: 0 }, { id: "1", type: 0, guild_id: "9", name: "general", position: 1 }]),
      "GET /channels/5": () => json({ id: "5", type: 1, recipients: [{ id: "42", username: "bob", global_name: "Bob", avatar: "h" }] }),
    });
    expect(await api.getChatInfo(portalKey("1"))).toEqual({
      name: "general",
      topic: "hi",
      space: { key: "guild-9", name: "Guild", order: "0001", avatarUrl: "https://cdn.test/icons/9/abc.png" },
    });
    expect(await api.getChatInfo(portalKey("5"))).toEqual({ name: "Bob", isDirect: true, avatarUrl: "https://cdn.test/avatars/42/h.png" });
  });

  it("a file goes as a multipart attachment with its caption; replies and edits in a thread use the thread's channel", async () => {
    const { api, calls } = fakeDiscord({
      "POST /channels/1/messages": sent("60", "1"),
      "GET /channels/50": () => json({ id: "50", type: 11, parent_id: "1" }),
      "POST /channels/50/messages": sent("61", "50"),
      "PATCH /channels/50/messages/61": sent("61", "50"),
    });
    const bytes = await new Blob(["PNGDATA"]).arrayBuffer();
    const file = { eventId: "$f", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "" }, media: { mxc: "mxc://x/y", filename: "a.png", mimetype: "image/png", bytes } };
    expect(await api.handleMatrixMessage(portalKey("1"), file)).toEqual({ messageId: "60" });
    const form = calls[0]!.body as FormData;
    expect(JSON.parse(String(form.get("payload_json")))).toEqual({ content: "", allowed_mentions: { parse: [], users: [] }, attachments: [{ id: 0, filename: "a.png" }] });
    const upload = form.get("files[0]") as File;
    expect([upload.name, upload.type, await upload.text()]).toEqual(["a.png", "image/png", "PNGDATA"]);

    const inThread = { eventId: "$t", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "in thread" }, threadRoot: remoteMessageId("50"), replyTo: remoteMessageId("50/58") };
    expect(await api.handleMatrixMessage(portalKey("1"), inThread)).toEqual({ messageId: "50/61" });
    expect(JSON.parse(String(calls[2]!.body))).toMatchObject({ content: "in thread", message_reference: { message_id: "58", channel_id: "50", fail_if_not_exists: false } });
    await api.handleMatrixEdit(portalKey("1"), remoteMessageId("50/61"), { ...inThread, content: { msgtype: "m.text", body: "fixed" } });
    expect(calls.map((c) => c.route)).toEqual(["POST /channels/1/messages", "GET /channels/50", "POST /channels/50/messages", "PATCH /channels/50/messages/61"]);
  });

  it("a Matrix thread on a message without a Discord thread starts one, named after the text", async () => {
    const { api, calls } = fakeDiscord({
      "POST /channels/1/messages/70/threads": () => json({ id: "70", type: 11, parent_id: "1", name: "first words" }, 201),
      "POST /channels/70/messages": sent("71", "70"),
    });
    const reply = { eventId: "$n", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "first words" }, threadRoot: remoteMessageId("70") };
    expect(await api.handleMatrixMessage(portalKey("1"), reply)).toEqual({ messageId: "70/71" });
    expect(calls.map((c) => c.route)).toEqual(["GET /channels/70", "POST /channels/1/messages/70/threads", "POST /channels/70/messages"]);
    expect(JSON.parse(String(calls[1]!.body))).toEqual({ name: "first words" });
  });

  it("typing: a start is POST /typing; a stop sends nothing (Discord lets it lapse)", async () => {
    const { api, calls } = fakeDiscord({ "POST /channels/1/typing": () => new Response(null, { status: 204 }) });
    await api.handleMatrixTyping(portalKey("1"), true);
    await api.handleMatrixTyping(portalKey("1"), false);
    expect(calls.map((c) => c.route)).toEqual(["POST /channels/1/typing"]);
  });

  it("in a guild channel: a webhook found or made once, executed as the person (name, avatar); a reply as a quoted link; edits and deletions through it", async () => {
    const hooks = new Map<string, ChannelWebhook | null>();
    const { api, calls } = fakeDiscord(
      {
        "GET /channels/1": () => json({ id: "1", type: 0, guild_id: "9", name: "general" }),
        // Another app's webhook of the same name is not ours.
        "GET /channels/1/webhooks": () => json([{ id: "3", type: 1, token: "theirs", name: "Matrix bridge", user: { id: "77" } }]),
        "GET /users/@me": () => json({ id: "5", username: "bridge", bot: true }),
        "POST /channels/1/webhooks": () => json({ id: "4", type: 1, token: "secret", name: "Matrix bridge", channel_id: "1", guild_id: "9" }),
        "POST /webhooks/4/secret?wait=true": sent("80", "1"),
        "GET /channels/1/messages/79": () => json({ ...fixtures.plain, id: "79", channel_id: "1", member: { nick: "[Cadence]" } }),
        "GET /channels/50": () => json({ id: "50", type: 11, parent_id: "1" }),
        "POST /webhooks/4/secret?wait=true&thread_id=50": sent("81", "50"),
        // Message 80 as Discord has it: posted as a reply through the webhook.
        "GET /channels/1/messages/80": () => json({ ...fixtures.plain, id: "80", channel_id: "1", content: "> [reply to @x](https://discord.com/channels/9/1/79)\nhi" }),
        "PATCH /webhooks/4/secret/messages/80": sent("80", "1"),
        "DELETE /webhooks/4/secret/messages/81?thread_id=50": () => new Response(null, { status: 204 }),
      },
      hooks,
    );
    const text = (body: string, extra: object = {}) => ({ eventId: "$m", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body }, ...extra });
    expect(await api.handleMatrixMessage(portalKey("1"), text("hi"))).toEqual({ messageId: "80" });
    expect(hooks.get("1")).toEqual({ id: "4", token: "secret", guildId: "9" });
    expect(JSON.parse(String(calls[4]!.body))).toEqual({
      content: "hi",
      // Discord refuses "discord" in a webhook's username.
      username: "Me, from D\u200biscord land",
      avatar_url: "https://hs.test/avatar/me",
      allowed_mentions: { parse: [], users: [] },
    });
    await api.handleMatrixMessage(portalKey("1"), text("yes", { replyTo: remoteMessageId("79") }));
    expect(JSON.parse(String(calls[6]!.body))).toMatchObject({ content: "> [reply to @\\[Cadence\\]](https://discord.com/channels/9/1/79)\nyes" });
    expect(await api.handleMatrixMessage(portalKey("1"), text("threaded", { threadRoot: remoteMessageId("50") }))).toEqual({ messageId: "50/81" });
    await api.handleMatrixEdit(portalKey("1"), remoteMessageId("80"), text("hi!"));
    // The edit keeps the reply's quoted jump link.
    expect(JSON.parse(String(calls[10]!.body))).toMatchObject({ content: "> [reply to @x](https://discord.com/channels/9/1/79)\nhi!" });
    await api.handleMatrixRedaction(portalKey("1"), remoteMessageId("50/81"));
    expect(calls.map((c) => c.route)).toEqual([
      "GET /channels/1",
      "GET /channels/1/webhooks",
      "GET /users/@me",
      "POST /channels/1/webhooks",
      "POST /webhooks/4/secret?wait=true",
      "GET /channels/1/messages/79",
      "POST /webhooks/4/secret?wait=true",
      "GET /channels/50",
      "POST /webhooks/4/secret?wait=true&thread_id=50",
      "GET /channels/1/messages/80",
      "PATCH /webhooks/4/secret/messages/80",
      "DELETE /webhooks/4/secret/messages/81?thread_id=50",
    ]);
  });

  it("without MANAGE_WEBHOOKS (403, code 50013) the bot sends, remembering there is no webhook; a message the webhook did not send is edited as the bot's", async () => {
    const hooks = new Map<string, ChannelWebhook | null>();
    const { api, calls } = fakeDiscord(
      {
        "GET /channels/1": () => json({ id: "1", type: 0, guild_id: "9", name: "general" }),
        "GET /channels/1/webhooks": () => json({ message: "Missing Permissions", code: 50013 }, 403),
        "GET /users/@me": () => json({ id: "5", username: "bridge", bot: true }),
        "POST /channels/1/messages": sent("90", "1"),
      },
      hooks,
    );
    const text = { eventId: "$m", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "hi" }, replyTo: remoteMessageId("89") };
    expect(await api.handleMatrixMessage(portalKey("1"), text)).toEqual({ messageId: "90" });
    expect(hooks.get("1")).toBeNull();
    expect(calls.at(-1)!.route).toBe("POST /channels/1/messages");
    expect(JSON.parse(String(calls.at(-1)!.body))).toMatchObject({ message_reference: { message_id: "89" }, allowed_mentions: { replied_user: true } });

    const withHook = fakeDiscord({ "PATCH /webhooks/4/secret/messages/90": () => json({ message: "Unknown Message", code: 10008 }, 404), "PATCH /channels/1/messages/90": sent("90", "1") }, new Map([["1", { id: "4", token: "secret", guildId: "9" }]]));
    await withHook.api.handleMatrixEdit(portalKey("1"), remoteMessageId("90"), { ...text, content: { msgtype: "m.text", body: "hi!" } });
    expect(withHook.calls.map((c) => c.route)).toEqual(["GET /channels/1/messages/90", "PATCH /webhooks/4/secret/messages/90", "PATCH /channels/1/messages/90"]);
  });

  it("a webhook deleted on Discord (10015) is replaced once, and the message still goes", async () => {
    const hooks = new Map<string, ChannelWebhook | null>([["1", { id: "4", token: "old", guildId: "9" }]]);
    const { api, calls } = fakeDiscord(
      {
        "POST /webhooks/4/old?wait=true": () => json({ message: "Unknown Webhook", code: 10015 }, 404),
        "GET /channels/1": () => json({ id: "1", type: 0, guild_id: "9", name: "general" }),
        "GET /channels/1/webhooks": () => json([]),
        "GET /users/@me": () => json({ id: "5", username: "bridge", bot: true }),
        "POST /channels/1/webhooks": () => json({ id: "6", type: 1, token: "new", name: "Matrix bridge", channel_id: "1", guild_id: "9" }),
        "POST /webhooks/6/new?wait=true": sent("95", "1"),
      },
      hooks,
    );
    const text = { eventId: "$m", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "still here" } };
    expect(await api.handleMatrixMessage(portalKey("1"), text)).toEqual({ messageId: "95" });
    expect(hooks.get("1")).toEqual({ id: "6", token: "new", guildId: "9" });
    expect(calls.map((c) => c.route)).toEqual([
      "POST /webhooks/4/old?wait=true",
      "GET /channels/1",
      "GET /channels/1/webhooks",
      "GET /users/@me",
      "POST /channels/1/webhooks",
      "POST /webhooks/6/new?wait=true",
    ]);
  });

  it("fetchMessages leaves out the bridge's own posts (its webhook's, its bot's): the person's, never brought back", async () => {
    const { api } = fakeDiscord({
      "GET /channels/1/messages?limit=100&after=10": () =>
        json([
          { ...message("14", "someone else's webhook"), webhook_id: "3", author: { id: "3", username: "CI" } },
          { ...message("13", "mine, by the bot"), author: { id: "5", username: "bridge", bot: true } },
          { ...message("12", "mine, through our webhook"), webhook_id: "4", author: { id: "4", username: "Me" } },
          message("11", "a person's"),
        ]),
    });
    expect((await api.fetchMessages(portalKey("1"), remoteMessageId("10"), 100)).map((m) => [m.messageId, m.content.body])).toEqual([
      ["11", "a person's"],
      ["14", "someone else's webhook"],
    ]);
  });

  it("a text over 2,000 characters goes as several messages in order, the first's id returned (and the last's, where a gap fill starts); the reply and files only on the first", async () => {
    let next = 200;
    const post = (channelId: string) => () => json({ id: String(next++), channel_id: channelId, timestamp: "2024-01-01T00:00:00.000Z" });
    const { api, calls } = fakeDiscord({ "POST /channels/1/messages": post("1") });
    const body = Array.from({ length: 90 }, (_, i) => `line ${String(i).padStart(2, "0")} ${"x".repeat(40)}`).join("\n");
    const long = { eventId: "$l", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body }, replyTo: remoteMessageId("89") };
    expect(await api.handleMatrixMessage(portalKey("1"), long)).toEqual({ messageId: "200", extraMessageIds: ["201", "202"] });
    const bodies = calls.map((c) => JSON.parse(String(c.body)) as { content: string; message_reference?: unknown; allowed_mentions: object });
    expect(calls.map((c) => c.route)).toEqual(["POST /channels/1/messages", "POST /channels/1/messages", "POST /channels/1/messages"]);
    // 90 lines of 48 characters: 40 fit in a message (40 * 48 + 39 line breaks = 1,959), then 40, then 10.
    expect(bodies.map((b) => b.content.length)).toEqual([1959, 1959, 489]);
    expect(bodies.map((b) => b.content).join("\n")).toBe(body);
    expect(bodies.map((b) => b.message_reference !== undefined)).toEqual([true, false, false]);
    expect(bodies[1]!.allowed_mentions).toEqual({ parse: [], users: [] });
  });

  it("through a webhook, a long text's parts all go as the person; a later part that fails stops the rest, the first still stands", async () => {
    let n = 0;
    const { api, calls } = fakeDiscord(
      {
        "POST /webhooks/4/secret?wait=true": () => (++n === 2 ? json({ message: "Internal Server Error", code: 0 }, 500) : sent(String(300 + n), "1")()),
      },
      new Map([["1", { id: "4", token: "secret", guildId: "9" }]]),
    );
    const body = Array.from({ length: 3 }, (_, i) => `${i}`.repeat(1500)).join("\n");
    expect(await api.handleMatrixMessage(portalKey("1"), { eventId: "$w", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text", body } })).toEqual({ messageId: "301" });
    expect(calls.map((c) => [c.route, (JSON.parse(String(c.body)) as { content: string; username: string }).content.slice(0, 3)])).toEqual([
      ["POST /webhooks/4/secret?wait=true", "000"],
      ["POST /webhooks/4/secret?wait=true", "111"],
    ]);
  });

  it("a gap fill reads the channel's active threads after the same point too: one list, oldest first, thread messages as Matrix threads", async () => {
    const channel = () => json([message("60", "in the channel, later"), message("57", "in the channel")]);
    const thread50 = () => json([{ ...message("59", "in thread 50"), channel_id: "50" }, { ...message("56", "first in thread 50"), channel_id: "50" }]);
    const thread52 = () => json([{ ...message("58", "in thread 52"), channel_id: "52" }]);
    const { api, calls } = fakeDiscord(
      {
        "GET /channels/1/messages?limit=100&after=55": channel,
        "GET /channels/50/messages?limit=100&after=55": thread50,
        // Thread 51 was deleted meanwhile: the others still fill.
        "GET /channels/52/messages?limit=100&after=55": thread52,
        "GET /channels/1/messages?limit=2&after=55": channel,
        "GET /channels/50/messages?limit=2&after=55": thread50,
        "GET /channels/52/messages?limit=2&after=55": thread52,
      },
      undefined,
      ["50", "51", "52"],
    );
    const got = await api.fetchMessages(portalKey("1"), remoteMessageId("50/55"), 100);
    expect(got.map((m) => [m.messageId, m.content.body, m.threadRoot ?? null])).toEqual([
      ["50/56", "first in thread 50", "50"],
      ["57", "in the channel", null],
      ["52/58", "in thread 52", "52"],
      ["50/59", "in thread 50", "50"],
      ["60", "in the channel, later", null],
    ]);
    expect(calls.map((c) => c.route)).toEqual([
      "GET /channels/1/messages?limit=100&after=55",
      "GET /channels/50/messages?limit=100&after=55",
      "GET /channels/51/messages?limit=100&after=55",
      "GET /channels/52/messages?limit=100&after=55",
    ]);
    // At most `limit` in all: the oldest.
    expect((await api.fetchMessages(portalKey("1"), remoteMessageId("55"), 2)).map((m) => m.messageId)).toEqual(["50/56", "57"]);
  });

  it("a reaction keyed by one of our custom emoji images goes as name:id; another image is not sent; unicode as itself", async () => {
    const noContent = () => new Response(null, { status: 204 });
    const { api, calls } = fakeDiscord({
      "PUT /channels/1/messages/5/reactions/blobcat%3A1099/@me": noContent,
      "DELETE /channels/1/messages/5/reactions/blobcat%3A1099/@me": noContent,
      "PUT /channels/1/messages/5/reactions/%F0%9F%91%8D/@me": noContent,
    });
    await api.handleMatrixReaction(portalKey("1"), remoteMessageId("5"), "mxc://example.org/blobcat");
    await api.handleMatrixReaction(portalKey("1"), remoteMessageId("5"), "mxc://elsewhere.org/sticker");
    await api.handleMatrixReaction(portalKey("1"), remoteMessageId("5"), "👍");
    await api.handleMatrixReactionRemove(portalKey("1"), remoteMessageId("5"), "mxc://example.org/blobcat");
    expect(calls.map((c) => c.route)).toEqual([
      "PUT /channels/1/messages/5/reactions/blobcat%3A1099/@me",
      "PUT /channels/1/messages/5/reactions/%F0%9F%91%8D/@me",
      "DELETE /channels/1/messages/5/reactions/blobcat%3A1099/@me",
    ]);
  });
});
