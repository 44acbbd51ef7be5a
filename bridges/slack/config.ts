import { z } from "zod";
import type { RemoteUserId } from "../core/ids";
import type { BridgeIdentity } from "../core/network";
import { ConfigError } from "../../homeserver/src/config";

export const SLACK_NETWORK_ID = "slack";
/** The registration's sender_localpart and ghost prefix; its user namespace must be `@_slack_.*`. */
export const SLACK_BOT_LOCALPART = "_slack_bot";
export const SLACK_GHOST_PREFIX = "_slack_";
/** How many recent messages (conversations.history) a new portal room starts with. */
export const BACKFILL_LIMIT = 50;

/** A ConfigError: every request answers it, naming the setting, as for the homeserver's own settings. */
export class SlackConfigError extends ConfigError {}

const Settings = z.object({
  SLACK_BRIDGE_OWNER: z.string().regex(/^@[^:\s]+:\S+$/, "must be a Matrix user id"),
  SLACK_API_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://slack.com/api"),
  SLACK_SIGNING_SECRET: z.string().min(1),
  SLACK_BOT_TOKEN: z.string().startsWith("xoxb-", "must be a bot token (xoxb-...)").optional(),
  SLACK_USER_TOKEN: z.string().startsWith("xoxp-", "must be a user token (xoxp-...)").optional(),
  SLACK_APP_TOKEN: z.string().startsWith("xapp-", "must be an app-level token (xapp-...)").optional(),
  SLACK_CLIENT_ID: z.string().min(1).optional(),
  SLACK_CLIENT_SECRET: z.string().min(1).optional(),
  SLACK_AS_TOKEN: z.string().min(1),
  SLACK_HS_TOKEN: z.string().min(1),
  SERVER_NAME: z.string().min(1),
})
  .refine((s) => (s.SLACK_CLIENT_ID === undefined) === (s.SLACK_CLIENT_SECRET === undefined), {
    message: "set both or neither (the OAuth install flow)",
    path: ["SLACK_CLIENT_SECRET"],
  })
  .refine((s) => s.SLACK_BOT_TOKEN !== undefined || s.SLACK_CLIENT_ID !== undefined, {
    message: "set a bot token, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install the app with OAuth",
    path: ["SLACK_BOT_TOKEN"],
  });

export interface SlackConfig {
  apiBaseUrl: string;
  signingSecret: string;
  /** The configured workspace's bot token; workspaces installed through OAuth have their own (sealed, stored). */
  botToken: string | undefined;
  /** Posts as the person (messages from Element appear as them); the bot token posts otherwise. */
  userToken: string | undefined;
  /** Socket Mode's app-level token: set, the bridge object keeps a Socket Mode connection. */
  appToken: string | undefined;
  /** The app's OAuth credentials: the Worker serves the install flow. */
  oauth: { clientId: string; clientSecret: string } | undefined;
  identity: BridgeIdentity;
}

/**
 * The ghost of a Slack user. Remote user ids are `TEAM:USER` (Slack ids are unique per workspace); Slack ids are
 * upper-case letters and digits, Matrix localparts lower-case, so lower-casing is reversible:
 * `T0001:U0042` -> `_slack_t0001_u0042`.
 */
export const ghostLocalpart = (id: RemoteUserId): string => `${SLACK_GHOST_PREFIX}${id.replace(":", "_").toLowerCase()}`;

/** The Slack `{team, user}` behind one of our ghosts, else undefined. */
export function slackUserOfGhost(userId: string, serverName: string): { team: string; user: string } | undefined {
  const m = /^@_slack_([a-z0-9]+)_([a-z0-9]+):(.+)$/.exec(userId);
  if (!m || m[3] !== serverName) return undefined;
  return { team: (m[1] ?? "").toUpperCase(), user: (m[2] ?? "").toUpperCase() };
}

const cache = new WeakMap<object, SlackConfig | null>();

/**
 * The bridge's configuration, validated once per env: null when SLACK_BRIDGE_ENABLED is not "true"; a bad or
 * missing setting throws a SlackConfigError naming it.
 */
export function loadSlackConfig(env: Env): SlackConfig | null {
  const cached = cache.get(env);
  if (cached !== undefined) return cached;
  const config = parse(env);
  cache.set(env, config);
  return config;
}

function parse(env: Env): SlackConfig | null {
  if (env.SLACK_BRIDGE_ENABLED !== "true") return null;
  const parsed = Settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new SlackConfigError(`Invalid Slack bridge setting: ${problems.join("; ")}`);
  }
  const s = parsed.data;
  return {
    apiBaseUrl: s.SLACK_API_BASE_URL.replace(/\/+$/, ""),
    signingSecret: s.SLACK_SIGNING_SECRET,
    botToken: s.SLACK_BOT_TOKEN,
    userToken: s.SLACK_USER_TOKEN,
    appToken: s.SLACK_APP_TOKEN,
    oauth: s.SLACK_CLIENT_ID !== undefined && s.SLACK_CLIENT_SECRET !== undefined ? { clientId: s.SLACK_CLIENT_ID, clientSecret: s.SLACK_CLIENT_SECRET } : undefined,
    identity: {
      asToken: s.SLACK_AS_TOKEN,
      hsToken: s.SLACK_HS_TOKEN,
      serverName: s.SERVER_NAME,
      botLocalpart: SLACK_BOT_LOCALPART,
      ghostLocalpart,
      owner: s.SLACK_BRIDGE_OWNER,
      protocol: { id: SLACK_NETWORK_ID, displayname: "Slack" },
      backfillLimit: BACKFILL_LIMIT,
    },
  };
}

/** Whether a Matrix user is one of this bridge's own (its bot or a ghost): their events are never bridged back. */
export function isBridgeUser(userId: string, serverName: string): boolean {
  return userId.endsWith(`:${serverName}`) && userId.startsWith(`@${SLACK_GHOST_PREFIX}`);
}
