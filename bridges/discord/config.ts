import { z } from "zod";
import type { RemoteUserId } from "../core/ids";
import type { BridgeIdentity } from "../core/network";
import { ConfigError } from "../../homeserver/src/config";

export const DISCORD_NETWORK_ID = "discord";
/** The registration's sender_localpart and ghost prefix; its user namespace must be `@_discord_.*`. */
export const DISCORD_BOT_LOCALPART = "_discord_bot";
export const DISCORD_GHOST_PREFIX = "_discord_";

/** A ConfigError: every request answers it, naming the setting, as for the homeserver's own settings. */
export class DiscordConfigError extends ConfigError {}

const Settings = z.object({
  DISCORD_BRIDGE_OWNER: z.string().regex(/^@[^:\s]+:\S+$/, "must be a Matrix user id"),
  DISCORD_API_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://discord.com/api/v10"),
  DISCORD_CDN_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://cdn.discordapp.com"),
  /** Optional: the bot can instead log in from a management room (`login <token>`). */
  DISCORD_BOT_TOKEN: z.string().min(1).optional(),
  DISCORD_BACKFILL_LIMIT: z.coerce.number().int().min(0).max(1000).default(50),
  /** Opt-in: `login user <token>` (the person's own account: against Discord's terms, see management.ts). */
  DISCORD_ALLOW_USER_TOKEN: z.enum(["true", "false"]).default("false"),
  /** Opt-in: the privileged GUILD_MEMBERS intent (enabled in the developer portal), for nickname and avatar changes. */
  DISCORD_GUILD_MEMBERS_INTENT: z.enum(["true", "false"]).default("false"),
  DISCORD_AS_TOKEN: z.string().min(1),
  DISCORD_HS_TOKEN: z.string().min(1),
  SERVER_NAME: z.string().min(1),
});

export interface DiscordConfig {
  apiBaseUrl: string;
  cdnBaseUrl: string;
  /** The configured bot token, if any; a token given with `login` (stored sealed) takes its place. */
  botToken: string | undefined;
  /** How many recent messages a new portal is filled with (`bridge`). */
  backfillLimit: number;
  /** `login user <token>` is allowed (DISCORD_ALLOW_USER_TOKEN): the bridge may log in as the person's own account. */
  allowUserToken: boolean;
  /** IDENTIFY asks for GUILD_MEMBERS: GUILD_MEMBER_UPDATE renames ghosts without a message. */
  guildMembersIntent: boolean;
  identity: BridgeIdentity;
}

/** The ghost of a Discord user: `@_discord_<snowflake>:server`. */
export const ghostLocalpart = (id: RemoteUserId): string => `${DISCORD_GHOST_PREFIX}${id}`;

const cache = new WeakMap<object, DiscordConfig | null>();

/**
 * The bridge's configuration, validated once per env: null when DISCORD_BRIDGE_ENABLED is not "true"; a bad or
 * missing setting throws a DiscordConfigError naming it.
 */
export function loadDiscordConfig(env: Env): DiscordConfig | null {
  const cached = cache.get(env);
  if (cached !== undefined) return cached;
  const config = parse(env);
  cache.set(env, config);
  return config;
}

function parse(env: Env): DiscordConfig | null {
  if (env.DISCORD_BRIDGE_ENABLED !== "true") return null;
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new DiscordConfigError(`Invalid Discord bridge setting: ${problems.join("; ")}`);
  }
  const s = parsed.data;
  return {
    apiBaseUrl: s.DISCORD_API_BASE_URL.replace(/\/+$/, ""),
    cdnBaseUrl: s.DISCORD_CDN_BASE_URL.replace(/\/+$/, ""),
    botToken: s.DISCORD_BOT_TOKEN,
    backfillLimit: s.DISCORD_BACKFILL_LIMIT,
    allowUserToken: s.DISCORD_ALLOW_USER_TOKEN === "true",
    guildMembersIntent: s.DISCORD_GUILD_MEMBERS_INTENT === "true",
    identity: {
      asToken: s.DISCORD_AS_TOKEN,
      hsToken: s.DISCORD_HS_TOKEN,
      serverName: s.SERVER_NAME,
      botLocalpart: DISCORD_BOT_LOCALPART,
      ghostLocalpart,
      owner: s.DISCORD_BRIDGE_OWNER,
      protocol: { id: DISCORD_NETWORK_ID, displayname: "Discord" },
      backfillLimit: s.DISCORD_BACKFILL_LIMIT,
    },
  };
}

/** Whether a Matrix user is one of this bridge's own (its bot or a ghost): their events are never bridged back. */
export function isBridgeUser(userId: string, serverName: string): boolean {
  return userId.endsWith(`:${serverName}`) && userId.startsWith(`@${DISCORD_GHOST_PREFIX}`);
}
