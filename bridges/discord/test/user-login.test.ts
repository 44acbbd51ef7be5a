import { describe, expect, it } from "vitest";
import { portalKey, remoteMessageId } from "../../core/ids";
import { canMarkRead } from "../../core/network";
import { DiscordConfigError, loadDiscordConfig } from "../config";
import { testConfig } from "./fixtures/config";
import { USER_CAPABILITIES, identifyData } from "../gateway/identify";
import { type DiscordLoginSource, DiscordNetworkApi } from "../network-api";
import { isOwnMessage } from "../d2m/convert-message";
import { bridgeNonce, isBridgeNonce } from "../nonce";
import { DiscordRest, type LoginKind, USER_CLIENT_USER_AGENT } from "../rest";

/** The opt-in user-token login (`login user <token>`): REST auth, IDENTIFY, and the person's messages sent as them. */

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A fake Discord answering by "METHOD path", recording each call's headers and body. */
function fakeFetch(routes: Record<string, () => Response>) {
  const calls: { route: string; headers: Headers; body: BodyInit | null | undefined }[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const route = `${init?.method ?? "GET"} ${String(input).replace("https://d.test", "")}`;
    calls.push({ route, headers: new Headers(init?.headers), body: init?.body });
    return routes[route]?.() ?? json({ message: "Unknown", code: 10003 }, 404);
  }) as typeof fetch;
  return { calls, fetcher };
}

const config = testConfig({ backfillLimit: 0, allowUserToken: true });

/** The network API of a login of `kind` (null: logged out), whose channel 1 has a webhook stored (made by an earlier bot login). */
function api(kind: LoginKind | null, routes: Record<string, () => Response>) {
  const { calls, fetcher } = fakeFetch(routes);
  const login: DiscordLoginSource = {
    credentials: async () => (kind === null ? null : { token: "me-token", kind }),
    names: async () => ({ channels: {}, roles: {}, emojis: {} }),
    webhook: async () => ({ id: "5", token: "hook-token", guildId: "9" }),
    saveWebhook: async () => undefined,
    webhookSender: async () => ({ displayName: "Me" }),
    ownAuthors: async () => ({ botUserId: null, webhookIds: ["5"] }),
    customEmojiOfMxc: async () => null,
    activeThreads: async () => [],
  };
  return { api: new DiscordNetworkApi(config, login, fetcher), calls };
}

const sent = (id: string) => () => json({ id, channel_id: "1", timestamp: "2024-01-01T00:00:00.000Z" });
const noContent = () => new Response(null, { status: 204 });

describe("Discord user-token login", () => {
  it("DISCORD_ALLOW_USER_TOKEN: off by default, on with \"true\", anything else a named setting error", () => {
    const env = (extra: Record<string, string>) =>
      ({ DISCORD_BRIDGE_ENABLED: "true", DISCORD_BRIDGE_OWNER: "@me:example.org", DISCORD_AS_TOKEN: "as", DISCORD_HS_TOKEN: "hs", SERVER_NAME: "example.org", ...extra }) as unknown as Env;
    expect(loadDiscordConfig(env({}))?.allowUserToken).toBe(false);
    expect(loadDiscordConfig(env({ DISCORD_ALLOW_USER_TOKEN: "true" }))?.allowUserToken).toBe(true);
    expect(() => loadDiscordConfig(env({ DISCORD_ALLOW_USER_TOKEN: "yes" }))).toThrow(DiscordConfigError);
    expect(() => loadDiscordConfig(env({ DISCORD_ALLOW_USER_TOKEN: "yes" }))).toThrow(/DISCORD_ALLOW_USER_TOKEN/);
  });

  it("REST: a user token is sent bare, with a browser's User-Agent; a bot's as `Bot <token>`", async () => {
    const { calls, fetcher } = fakeFetch({
      "GET /users/@me": () => json({ id: "77", username: "me" }),
      "GET /gateway": () => json({ url: "wss://gateway.discord.gg" }),
      "GET /gateway/bot": () => json({ url: "wss://gateway.discord.gg", shards: 1, session_start_limit: { total: 1000, remaining: 9, reset_after: 0, max_concurrency: 1 } }),
    });
    const user = new DiscordRest({ baseUrl: "https://d.test", token: "me-token", kind: "user", fetch: fetcher });
    const bot = new DiscordRest({ baseUrl: "https://d.test", token: "bot-token", fetch: fetcher });
    expect(await user.currentUser()).toEqual({ id: "77", username: "me" });
    // Users have no /gateway/bot and no identify budget.
    expect(await user.gateway()).toEqual({ url: "wss://gateway.discord.gg" });
    expect(await bot.gateway()).toEqual({ url: "wss://gateway.discord.gg", session_start_limit: { remaining: 9, reset_after: 0 } });
    expect(calls.map((c) => [c.route, c.headers.get("authorization")])).toEqual([
      ["GET /users/@me", "me-token"],
      ["GET /gateway", "me-token"],
      ["GET /gateway/bot", "Bot bot-token"],
    ]);
    expect(calls[0]!.headers.get("user-agent")).toBe(USER_CLIENT_USER_AGENT);
    expect(calls[2]!.headers.get("user-agent")).toMatch(/^DiscordBot \(/);
    expect([user.kind, bot.kind]).toEqual(["user", "bot"]);
  });

  it("IDENTIFY: a bot asks for intents; a user sends no intents but a client's properties and capabilities", () => {
    expect(identifyData({ token: "bot-token", kind: "bot" }, 37_377)).toEqual({
      token: "bot-token",
      intents: 37_377,
      properties: { os: "cloudflare-workers", browser: "matrix-inbox", device: "matrix-inbox" },
    });
    expect(identifyData({ token: "me-token", kind: "user" }, 37_377)).toEqual({
      token: "me-token",
      capabilities: 525,
      properties: {
        os: "Windows",
        browser: "Chrome",
        device: "",
        system_locale: "en-US",
        browser_user_agent: USER_CLIENT_USER_AGENT,
        browser_version: "131.0.0.0",
        os_version: "10",
        referrer: "",
        referring_domain: "",
        release_channel: "stable",
      },
      compress: false,
    });
    // No bit that changes a payload shape the bridge reads (DM recipients, guild fields, READY split, reactions).
    expect(USER_CAPABILITIES & ((1 << 4) | (1 << 5) | (1 << 10) | (1 << 13))).toBe(0);
  });

  it("as a user, the person's messages are their own: posted (a real reply, never the channel's webhook), edited and deleted directly", async () => {
    const { api: user, calls } = api("user", {
      "POST /channels/1/messages": sent("60"),
      "PATCH /channels/1/messages/60": sent("60"),
      "DELETE /channels/1/messages/60": noContent,
    });
    const message = { eventId: "$m", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text" as const, body: "as me" }, replyTo: remoteMessageId("58") };
    expect(await user.handleMatrixMessage(portalKey("1"), message)).toEqual({ messageId: "60" });
    expect(JSON.parse(String(calls[0]!.body))).toEqual({
      content: "as me",
      allowed_mentions: { parse: [], users: [], replied_user: true },
      message_reference: { message_id: "58", channel_id: "1", fail_if_not_exists: false },
      nonce: expect.stringMatching(/^mxb\.[0-9a-f]{21}$/),
    });
    await user.handleMatrixEdit(portalKey("1"), remoteMessageId("60"), { ...message, content: { msgtype: "m.text", body: "as me, edited" } });
    await user.handleMatrixRedaction(portalKey("1"), remoteMessageId("60"));
    expect(calls.map((c) => c.route)).toEqual(["POST /channels/1/messages", "PATCH /channels/1/messages/60", "DELETE /channels/1/messages/60"]);
    expect(calls.every((c) => c.headers.get("authorization") === "me-token")).toBe(true);
  });

  it("the bridge's nonce marks its own posts as a user, live: not what the person sends from a Discord app", () => {
    const nonce = bridgeNonce();
    expect(nonce).toHaveLength(25);
    expect(bridgeNonce()).not.toBe(nonce);
    const own = { botUserId: null, webhookIds: [] };
    const me = { id: "77" };
    expect(isOwnMessage({ author: me, nonce }, own)).toBe(true);
    // Discord's clients send numeric snowflakes; the history carries no nonce at all.
    expect(isOwnMessage({ author: me, nonce: "1310000000000000000" }, own)).toBe(false);
    expect(isOwnMessage({ author: me, nonce: 1310000000000000000 }, own)).toBe(false);
    expect(isOwnMessage({ author: me }, own)).toBe(false);
    expect([isBridgeNonce(nonce), isBridgeNonce(null), isBridgeNonce("mxb")]).toEqual([true, false, false]);
  });

  it("read receipts: a user login acks the message (its thread's channel inside a thread); a bot login, or none, sends nothing", async () => {
    const { api: user, calls } = api("user", {
      "POST /channels/1/messages/60/ack": () => json({ token: null }),
      "POST /channels/50/messages/61/ack": () => json({ token: null }),
    });
    expect(canMarkRead(user)).toBe(true);
    await user.handleMatrixReadReceipt(portalKey("1"), remoteMessageId("60"));
    await user.handleMatrixReadReceipt(portalKey("1"), remoteMessageId("50/61"));
    expect(calls.map((c) => [c.route, String(c.body)])).toEqual([
      ["POST /channels/1/messages/60/ack", '{"token":null}'],
      ["POST /channels/50/messages/61/ack", '{"token":null}'],
    ]);
    const { api: bot, calls: botCalls } = api("bot", {});
    await bot.handleMatrixReadReceipt(portalKey("1"), remoteMessageId("60"));
    expect(botCalls).toEqual([]);
    const { api: none, calls: noneCalls } = api(null, {});
    await none.handleMatrixReadReceipt(portalKey("1"), remoteMessageId("60"));
    expect(noneCalls).toEqual([]);
  });
});
