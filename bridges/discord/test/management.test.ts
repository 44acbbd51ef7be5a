import { describe, expect, it } from "vitest";
import type { GatewayStatus } from "../gateway/gateway-object";
import { type DiscordBridgeControl, orderedChannels, runDiscordCommand, spaceOrder } from "../management";
import { type ApiChannel, type ApiUser, DiscordRest } from "../rest";

const status: GatewayStatus = {
  enabled: true,
  loggedIn: true,
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

/** A fake Discord REST (by path) and a recording bridge control. */
function setup(opts: { loggedIn?: boolean } = {}) {
  const routes: Record<string, () => Response> = {
    "GET /users/@me": () => json({ id: "42", username: "inbox-bot" }),
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
    if (token !== "Bot good") return json({ message: "401: Unauthorized", code: 0 }, 401);
    return routes[`${init?.method ?? "GET"} ${path}`]?.() ?? json({ message: "404: Not Found" }, 404);
  }) as typeof fetch;
  const rest = (token: string) => new DiscordRest({ baseUrl: "https://d.test", botToken: token, fetch: fetcher });
  const log: string[] = [];
  const bridged: string[] = [];
  const control: DiscordBridgeControl = {
    status: async () => ({ ...status, loggedIn: opts.loggedIn ?? true }),
    rest: async () => ((opts.loggedIn ?? true) ? rest("good") : null),
    restWithToken: rest,
    saveLogin: async (token: string, user: ApiUser) => void log.push(`login ${token} ${user.id}`),
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
  return { control, log, bridged, run: (text: string) => runDiscordCommand(text, control) };
}

describe("management room commands", () => {
  it("help lists the commands", async () => {
    const { run } = setup();
    expect(await run("help")).toBe(
      [
        "Commands:",
        "help: this list",
        "login <bot token>: log the bridge's Discord bot in (the token is checked, then stored encrypted); redact your message afterwards",
        "logout: forget the stored bot token and disconnect",
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
    expect(log).toEqual(["login good 42"]);
    expect(await run("login")).toContain("Usage");
    expect(await run("logout")).toBe("Logged out: the stored token is deleted.");
  });

  it("ping and status tell connected, reconnecting, stopped and logged out apart", async () => {
    expect(await setup().run(" PING ")).toBe("Connected to Discord as bot user 42.");
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
