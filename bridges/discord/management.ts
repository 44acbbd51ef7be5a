import { type BridgeCommand, runManagementCommand } from "../core/management";
import { BRIDGEABLE_CHANNEL_TYPES, CATEGORY_CHANNEL_TYPE } from "./channel-types";
import type { GatewayStatus } from "./gateway/gateway-object";
import { type ApiChannel, type ApiGuild, type ApiUser, DiscordApiError, type DiscordRest, type LoginKind } from "./rest";


/** What the commands act on: the gateway object's login, connection and portals, injected (tests pass fakes). */
export interface DiscordBridgeControl {
  status(): Promise<GatewayStatus>;
  /** The REST client with the logged-in token, or null while logged out. */
  rest(): Promise<DiscordRest | null>;
  /** A REST client for a token that is not stored yet (to check it before `login` keeps it). */
  restWithToken(token: string, kind: LoginKind): DiscordRest;
  /** Whether `login user <token>` is allowed (DISCORD_ALLOW_USER_TOKEN). */
  allowsUserTokens(): boolean;
  /** Keeps the checked token (sealed) and its kind, and reconnects the gateway with it. */
  saveLogin(token: string, kind: LoginKind, user: ApiUser): Promise<void>;
  /** Forgets the stored token (of either kind) and disconnects; false when there was none. */
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
  const user = status.loginKind === "user";
  if (status.fatalError !== null) {
    return `Not connected: ${status.fatalError}. ${user ? 'Check your user token, then "login user <token>" again.' : 'Check the bot token and its intents, then "login" again.'}`;
  }
  if (status.connected && status.ready) return user ? `Connected to Discord as user ${status.botUserId ?? "?"} (your own account, with your user token).` : `Connected to Discord as bot user ${status.botUserId ?? "?"}.`;
  return "Not connected to Discord right now; reconnecting.";
}

/** Said with every user login (and its usage line): what logging in as a user account risks. */
export const USER_TOKEN_WARNING =
  'Warning: with a user token the bridge automates your own Discord account, which Discord\'s terms of service forbid ("self-bots"). Discord can ban the account for it. Use it at your own risk.';

const userTokensDisabled = `Logging in with a user token is disabled on this bridge (DISCORD_ALLOW_USER_TOKEN is not "true"): it is off by default because it automates your own Discord account, which Discord's terms of service forbid ("self-bots"), and Discord can ban the account for it. Nothing was changed.`;

/** The account behind a token, asked with GET /users/@me as `kind`; null when Discord refuses it (401). */
async function whoIs(control: DiscordBridgeControl, token: string, kind: LoginKind): Promise<ApiUser | null> {
  try {
    return await control.restWithToken(token, kind).currentUser();
  } catch (err) {
    if (err instanceof DiscordApiError && err.status === 401) return null;
    throw err;
  }
}

/**
 * Checks a token given with `login` as `kind`: its account, or why not. A bot's account answers `bot: true`, a
 * user's does not. Discord refuses (401) a user token sent as a bot's ("Bot <token>") and a bot token sent bare, so
 * a refused token is asked once more as the other kind, only to name the mix-up; a token is sent as a user's only
 * while user logins are allowed.
 */
async function checkToken(control: DiscordBridgeControl, token: string, kind: LoginKind): Promise<ApiUser | "refused" | "other kind"> {
  const isKind = (user: ApiUser, k: LoginKind) => (user.bot === true) === (k === "bot");
  const me = await whoIs(control, token, kind);
  if (me !== null) return isKind(me, kind) ? me : "other kind";
  const other: LoginKind = kind === "bot" ? "user" : "bot";
  if (other === "user" && !control.allowsUserTokens()) return "refused";
  const asOther = await whoIs(control, token, other);
  return asOther !== null && isKind(asOther, other) ? "other kind" : "refused";
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
      usage: "<bot token> | login user <user token>",
      help: "log in as the bridge's Discord bot, or (if DISCORD_ALLOW_USER_TOKEN allows it: against Discord's terms, at your own risk) as yourself with your user token; the token is checked, then stored encrypted; redact your message afterwards",
      run: async (args) => {
        const kind: LoginKind = args[0]?.toLowerCase() === "user" ? "user" : "bot";
        const token = kind === "user" ? args[1] : args[0];
        if (kind === "user" && !control.allowsUserTokens()) return userTokensDisabled;
        if (token === undefined) {
          return kind === "user"
            ? `Usage: "login user <token>" (your own account's token).\n${USER_TOKEN_WARNING}`
            : 'Usage: "login <bot token>" (the token of your bot, from the Discord developer portal).';
        }
        const checked = await checkToken(control, token, kind);
        if (checked === "refused") return "Discord refused that token. Nothing was changed.";
        if (checked === "other kind") {
          return kind === "user"
            ? 'That is a bot token, not a user token. Nothing was changed. Say "login <bot token>" to log the bot in.'
            : `That is a user account's token, not a bot token. Nothing was changed.${control.allowsUserTokens() ? ' To log in as yourself, say "login user <token>" (read its warning first).' : ""}`;
        }
        await control.saveLogin(token, kind, checked);
        if (kind === "bot") return `Logged in as ${checked.username} (${checked.id}). Connecting to the gateway.`;
        return `Logged in as yourself, ${checked.username} (${checked.id}), with your user token: your DMs and servers can be bridged, and your messages are sent as you. Connecting to the gateway.\n${USER_TOKEN_WARNING}`;
      },
    },
    {
      name: "logout",
      help: "forget the stored token (bot or user) and disconnect",
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
