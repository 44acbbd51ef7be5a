import { type BridgeCommand, runManagementCommand } from "../core/management";
import { BRIDGEABLE_CHANNEL_TYPES, CATEGORY_CHANNEL_TYPE } from "./channel-types";
import type { GatewayStatus } from "./gateway/gateway-object";
import { type ApiChannel, type ApiGuild, type ApiUser, DiscordApiError, type DiscordRest } from "./rest";


/** What the commands act on: the gateway object's login, connection and portals, injected (tests pass fakes). */
export interface DiscordBridgeControl {
  status(): Promise<GatewayStatus>;
  /** The REST client with the logged-in token, or null while logged out. */
  rest(): Promise<DiscordRest | null>;
  /** A REST client for a token that is not stored yet (to check it before `login` keeps it). */
  restWithToken(token: string): DiscordRest;
  /** Keeps the checked token (sealed) and reconnects the gateway with it. */
  saveLogin(token: string, user: ApiUser): Promise<void>;
  /** Forgets the stored token and disconnects; false when there was none. */
  logout(): Promise<boolean>;
  bridgedChannelIds(): Promise<string[]>;
  /** Opens the channels' portals (room, space, recent history) in this order; returns how many are new. */
  bridge(channels: ApiChannel[]): Promise<number>;
  unbridge(channelId: string): Promise<boolean>;
  /** Re-reads every bridged channel's name, topic and icon; returns how many portals changed. */
  sync(): Promise<number>;
}

/** A guild's channels that get portals, in the order Discord lists them: by category's position, then their own. */
export function orderedChannels(channels: ApiChannel[]): ApiChannel[] {
  const categoryPosition = new Map(channels.filter((c) => c.type === CATEGORY_CHANNEL_TYPE).map((c) => [c.id, c.position ?? 0]));
  const rank = (c: ApiChannel): [number, number] => [c.parent_id ? (categoryPosition.get(c.parent_id) ?? 0) + 1 : 0, c.position ?? 0];
  return channels
    .filter((c) => BRIDGEABLE_CHANNEL_TYPES.has(c.type))
    .sort((a, b) => {
      const [ca, pa] = rank(a);
      const [cb, pb] = rank(b);
      return ca - cb || pa - pb || a.id.localeCompare(b.id);
    });
}

/** The m.space.child `order` of a channel: category rank, then position, zero-padded so strings sort like numbers. */
export function spaceOrder(channel: ApiChannel, channels: ApiChannel[]): string {
  const index = orderedChannels(channels).findIndex((c) => c.id === channel.id);
  return String(Math.max(index, 0)).padStart(4, "0");
}

function describeStatus(status: GatewayStatus): string {
  if (!status.loggedIn) return 'Not logged in. Say "login <bot token>".';
  if (status.fatalError !== null) return `Not connected: ${status.fatalError}. Check the bot token and its intents, then "login" again.`;
  if (status.connected && status.ready) return `Connected to Discord as bot user ${status.botUserId ?? "?"}.`;
  return "Not connected to Discord right now; reconnecting.";
}

const notLoggedIn = 'Not logged in. Say "login <bot token>" first.';

/** The Discord bridge's management commands, on the core's network-neutral runner. */
export function discordCommands(control: DiscordBridgeControl): BridgeCommand[] {
  const withRest = async (run: (rest: DiscordRest) => Promise<string>): Promise<string> => {
    const rest = await control.rest();
    return rest === null ? notLoggedIn : run(rest);
  };
  const status: BridgeCommand["run"] = async () => describeStatus(await control.status());
  return [
    {
      name: "login",
      usage: "<bot token>",
      help: "log the bridge's Discord bot in (the token is checked, then stored encrypted); redact your message afterwards",
      run: async ([token]) => {
        if (token === undefined) return 'Usage: "login <bot token>" (the token of your bot, from the Discord developer portal).';
        let user: ApiUser;
        try {
          user = await control.restWithToken(token).currentUser();
        } catch (err) {
          if (err instanceof DiscordApiError && err.status === 401) return "Discord refused that token. Nothing was changed.";
          throw err;
        }
        await control.saveLogin(token, user);
        return `Logged in as ${user.username} (${user.id}). Connecting to the gateway.`;
      },
    },
    {
      name: "logout",
      help: "forget the stored bot token and disconnect",
      run: async () => ((await control.logout()) ? "Logged out: the stored token is deleted." : "No token was stored by login (a configured DISCORD_BOT_TOKEN stays in use)."),
    },
    { name: "status", help: "the login and the gateway connection", run: status },
    { name: "ping", help: "whether the bridge is connected to Discord", run: status },
    {
      name: "list",
      help: "the servers the bot is in and their channels",
      run: () =>
        withRest(async (rest) => {
          const bridged = new Set(await control.bridgedChannelIds());
          const guilds = await rest.guilds();
          if (guilds.length === 0) return "The bot is in no server. Invite it with its OAuth2 URL (scope bot).";
          const lines: string[] = [];
          for (const guild of guilds) {
            lines.push(`${guild.name} (${guild.id})`);
            for (const channel of orderedChannels(await rest.guildChannels(guild.id))) {
              lines.push(`  #${channel.name ?? channel.id} (${channel.id})${bridged.has(channel.id) ? " [bridged]" : ""}`);
            }
          }
          return lines.join("\n");
        }),
    },
    {
      name: "bridge",
      usage: "<server id or channel id>",
      help: "bridge a whole server (a space with its channels) or one channel, with recent history",
      run: ([id]) =>
        withRest(async (rest) => {
          if (id === undefined || !/^\d+$/.test(id)) return 'Usage: "bridge <server id or channel id>" (see "list").';
          const guild = await rest.guild(id).catch((err: unknown) => notFound(err));
          if (guild !== null) {
            const channels = orderedChannels(await rest.guildChannels(guild.id));
            const added = await control.bridge(channels);
            return `Bridged ${describeGuild(guild)}: ${channels.length} channels (${added} new).`;
          }
          const channel = await rest.channel(id).catch((err: unknown) => notFound(err));
          if (channel === null) return `No server or channel ${id} that the bot can see.`;
          if (!BRIDGEABLE_CHANNEL_TYPES.has(channel.type)) return `#${channel.name ?? id} is not a text channel.`;
          const added = await control.bridge([channel]);
          return added === 1 ? `Bridged #${channel.name ?? id}.` : `#${channel.name ?? id} was bridged already.`;
        }),
    },
    {
      name: "unbridge",
      usage: "<channel id>",
      help: "stop bridging a channel (its room stays, with its history)",
      run: async ([id]) => {
        if (id === undefined) return 'Usage: "unbridge <channel id>".';
        return (await control.unbridge(id)) ? `Stopped bridging ${id}.` : `${id} is not bridged.`;
      },
    },
    {
      name: "sync",
      help: "re-read the bridged channels' names, topics and icons",
      run: () => withRest(async () => `Updated ${await control.sync()} portals.`),
    },
  ];
}

function describeGuild(guild: ApiGuild): string {
  return `${guild.name} (${guild.id})`;
}

/** A 404 from Discord as null (the id is not that kind of thing); anything else stays an error. */
function notFound(err: unknown): null {
  if (err instanceof DiscordApiError && err.status === 404) return null;
  throw err;
}

/** Runs one management-room message through the commands. */
export function runDiscordCommand(text: string, control: DiscordBridgeControl): Promise<string> {
  return runManagementCommand(text, discordCommands(control));
}
