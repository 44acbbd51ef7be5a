import { describe, expect, it } from "vitest";
import type { GatewayStatus } from "../gateway/gateway-object";
import { type DiscordBridgeControl, USER_TOKEN_WARNING, orderedChannels, runDiscordCommand, spaceOrder } from "../management";
import { type ApiChannel, type ApiUser, DiscordRest, type LoginKind } from "../rest";

const status: GatewayStatus = {
  enabled: true,
  loggedIn: true,
  loginKind: "bot",
  connected: true,
  ready: true,
  sessionId: "s",
  sequence: 3,
  botUserId: "42",
  identifies: 1,
  resumes: 0,
  invalidSessions: 0,
  identifyRemaining: 999,
  fatalError: null,
};

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const channels: ApiChannel[] = [
  { id: "20", type: 4, name: "Later", position: 1 },
  { id: "10", type: 4, name: "First", position: 0 },
  { id: "3", type: 0, name: "late-chat", position: 0, parent_id: "20" },
  { id: "2", type: 0, name: "early-chat", position: 1, parent_id: "10" },
  { id: "4", type: 2, name: "voice", position: 0, parent_id: "10" },
  { id: "1", type: 0, name: "rules", position: 0 },
  { id: "5", type: 15, name: "forum", position: 0, parent_id: "10" },
];

/**
 * A fake Discord REST (by path) and a recording bridge control. Like Discord, it takes the bot token "good" only as
 * "Bot good" and the user token "me-token" only bare; every GET /users/@me is recorded with its header.
 */
function setup(opts: { loggedIn?: boolean; allowUserTokens?: boolean; loginKind?: LoginKind } = {}) {
  const asked: string[] = [];
  const routes: Record<string, () => Response> = {
    "GET /users/@me": () => json({ id: "42", username: "inbox-bot", bot: true }),
    "GET /users/@me/guilds": () => json([{ id: "100", name: "Guild", icon: null }]),
    "GET /guilds/100": () => json({ id: "100", name: "Guild", icon: null }),
    "GET /guilds/100/channels": () => json(channels),
    "GET /guilds/3": () => json({ message: "Unknown Guild", code: 10004 }, 404),
    "GET /channels/3": () => json(channels[2]),
    "GET /guilds/4": () => json({ message: "Unknown Guild", code: 10004 }, 404),
    "GET /channels/4": () => json(channels[4]),
    "GET /guilds/9": () => json({ message: "Unknown Guild", code: 10004 }, 404),
    "GET /channels/9": () => json({ message: "Unknown Channel", code: 10003 }, 404),
  };
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input).replace("https://d.test", "");
    const token = new Headers(init?.headers).get("authorization");
    if (path === "/users/@me") asked.push(token ?? "");
    if (token === "me-token" && path === "/users/@me") return json({ id: "77", username: "me", global_name: "Me" });
    // A bot's account taking its token bare: still a bot (`bot: true`), whatever the header looked like.
    if (token === "bare-bot" && path === "/users/@me") return json({ id: "42", username: "inbox-bot", bot: true });
    if (token !== "Bot good") return json({ message: "401: Unauthorized", code: 0 }, 401);
    return routes[`${init?.method ?? "GET"} ${path}`]?.() ?? json({ message: "404: Not Found" }, 404);
  }) as typeof fetch;
  const rest = (token: string, kind: LoginKind = "bot") => new DiscordRest({ baseUrl: "https://d.test", token, kind, fetch: fetcher });
  const log: string[] = [];
  const bridged: string[] = [];
  const control: DiscordBridgeControl = {
    status: async () => ({ ...status, loggedIn: opts.loggedIn ?? true, loginKind: opts.loginKind ?? "bot" }),
    rest: async () => ((opts.loggedIn ?? true) ? rest("good") : null),
    restWithToken: rest,
    allowsUserTokens: () => opts.allowUserTokens ?? false,
    saveLogin: async (token: string, kind: LoginKind, user: ApiUser) => void log.push(`login ${kind} ${token} ${user.id}`),
    logout: async () => (log.push("logout"), true),
    bridgedChannelIds: async () => bridged,
    bridge: async (list) => {
      const fresh = list.filter((c) => !bridged.includes(c.id));
      bridged.push(...fresh.map((c) => c.id));
      return fresh.length;
    },
    unbridge: async (id) => bridged.includes(id),
    sync: async () => bridged.length,
  };
  return { control, log, bridged, asked, run: (text: string) => runDiscordCommand(text, control) };
}

describe("management room commands", () => {
  it("help lists the commands", async () => {
    const { run } = setup();
    expect(await run("help")).toBe(
      [
        "Commands:",
        "help: this list",
        "login <bot token> | login user <user token>: log in as the bridge's Discord bot, or (if DISCORD_ALLOW_USER_TOKEN allows it: against Discord's terms, at your own risk) as yourself with your user token; the token is checked, then stored encrypted; redact your message afterwards",
        "logout: forget the stored token (bot or user) and disconnect",
        "status: the login and the gateway connection",
        "ping: whether the bridge is connected to Discord",
        "list: the servers the bot is in and their channels",
        "bridge <server id or channel id>: bridge a whole server (a space with its channels) or one channel, with recent history",
        "unbridge <channel id>: stop bridging a channel (its room stays, with its history)",
        "sync: re-read the bridged channels' names, topics and icons",
      ].join("\n"),
    );
  });

  it("login checks the token with GET /users/@me before keeping it; a refused token changes nothing", async () => {
    const { run, log } = setup();
    expect(await run("login bad")).toBe("Discord refused that token. Nothing was changed.");
    expect(log).toEqual([]);
    expect(await run("LOGIN good")).toBe("Logged in as inbox-bot (42). Connecting to the gateway.");
    expect(log).toEqual(["login bot good 42"]);
    expect(await run("login")).toContain("Usage");
    expect(await run("logout")).toBe("Logged out: the stored token is deleted.");
  });

  it("login user is refused while DISCORD_ALLOW_USER_TOKEN is off, without sending the token anywhere", async () => {
    const { run, log, asked } = setup();
    expect(await run("login user me-token")).toBe(
      'Logging in with a user token is disabled on this bridge (DISCORD_ALLOW_USER_TOKEN is not "true"): it is off by default because it automates your own Discord account, which Discord\'s terms of service forbid ("self-bots"), and Discord can ban the account for it. Nothing was changed.',
    );
    expect(asked).toEqual([]);
    // A user token given as a bot's: Discord refuses it, and it is not tried as a user's while those are off.
    expect(await run("login me-token")).toBe("Discord refused that token. Nothing was changed.");
    expect(asked).toEqual(["Bot me-token"]);
    expect(log).toEqual([]);
  });

  it("login user <token> (opted in): checked bare, without \"Bot \", kept with its kind, answered with the warning", async () => {
    const { run, log, asked } = setup({ allowUserTokens: true });
    expect(USER_TOKEN_WARNING).toBe(
      'Warning: with a user token the bridge automates your own Discord account, which Discord\'s terms of service forbid ("self-bots"). Discord can ban the account for it. Use it at your own risk.',
    );
    expect(await run("login user me-token")).toBe(
      `Logged in as yourself, me (77), with your user token: your DMs and servers can be bridged, and your messages are sent as you. Connecting to the gateway.\n${USER_TOKEN_WARNING}`,
    );
    expect(asked).toEqual(["me-token"]);
    expect(log).toEqual(["login user me-token 77"]);
    expect(await run("login User")).toBe(`Usage: "login user <token>" (your own account's token).\n${USER_TOKEN_WARNING}`);
  });

  it("login names a token of the other kind instead of keeping it", async () => {
    const { run, log, asked } = setup({ allowUserTokens: true });
    const botGivenAsUser = 'That is a bot token, not a user token. Nothing was changed. Say "login <bot token>" to log the bot in.';
    // Refused bare, then taken as a bot's.
    expect(await run("login user good")).toBe(botGivenAsUser);
    expect(asked).toEqual(["good", "Bot good"]);
    // Taken bare, but the account says it is a bot.
    expect(await run("login user bare-bot")).toBe(botGivenAsUser);
    expect(await run("login me-token")).toBe('That is a user account\'s token, not a bot token. Nothing was changed. To log in as yourself, say "login user <token>" (read its warning first).');
    expect(await run("login user nonsense")).toBe("Discord refused that token. Nothing was changed.");
    expect(log).toEqual([]);
  });

  it("ping and status tell connected, reconnecting, stopped and logged out apart", async () => {
    expect(await setup().run(" PING ")).toBe("Connected to Discord as bot user 42.");
    expect(await setup({ loginKind: "user" }).run("status")).toBe("Connected to Discord as user 42 (your own account, with your user token).");
    expect(await setup({ loggedIn: false }).run("status")).toBe('Not logged in. Say "login <bot token>".');
  });

  it("list shows the guilds and their text channels in Discord's order, marking the bridged ones", async () => {
    const { run, control } = setup();
    await control.bridge([channels[3]!]);
    expect(await run("list")).toBe(["Guild (100)", "  #rules (1)", "  #forum (5)", "  #early-chat (2) [bridged]", "  #late-chat (3)"].join("\n"));
    expect(await setup({ loggedIn: false }).run("list")).toBe('Not logged in. Say "login <bot token>" first.');
  });

  it("bridge takes a guild (all its text channels, ordered) or one channel; unbridge stops one", async () => {
    const { run, bridged } = setup();
    expect(await run("bridge 3")).toBe("Bridged #late-chat.");
    expect(await run("bridge 100")).toBe("Bridged Guild (100): 4 channels (3 new).");
    expect(bridged).toEqual(["3", "1", "5", "2"]);
    expect(await run("bridge 4")).toBe("#voice is not a text channel.");
    expect(await run("bridge 9")).toBe("No server or channel 9 that the bot can see.");
    expect(await run("bridge general")).toContain("Usage");
    expect(await run("unbridge 3")).toBe("Stopped bridging 3.");
    expect(await run("unbridge 77")).toBe("77 is not bridged.");
    expect(await run("sync")).toBe("Updated 4 portals.");
  });

  it("orders channels by category position, then their own; the space order is that rank, zero-padded", () => {
    expect(orderedChannels(channels).map((c) => c.id)).toEqual(["1", "5", "2", "3"]);
    expect(spaceOrder(channels[2]!, channels)).toBe("0003");
  });
});
