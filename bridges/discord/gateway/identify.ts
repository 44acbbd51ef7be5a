import { type DiscordLogin, USER_CLIENT_USER_AGENT } from "../rest";

/**
 * IDENTIFY's `capabilities` for a user login (a bitfield Discord's own clients send; bots send intents instead;
 * Discord does not document the bits, their meanings here are the client developers' community's findings).
 * Only bits that trim READY and leave the shapes the bridge reads as documented: 1 << 0 (user notes not in READY),
 * 1 << 2 and 1 << 3 (versioned read states and guild settings), 1 << 9 (user settings as protobuf, so the legacy
 * `user_settings` object is left out). Not asked for: 1 << 4 (DMs would carry `recipient_ids` instead of
 * `recipients`), 1 << 5 (a READY_SUPPLEMENTAL split), 1 << 10 (guild fields moved under `properties`), 1 << 13
 * (MESSAGE_REACTION_ADD_MANY instead of MESSAGE_REACTION_ADD).
 */
export const USER_CAPABILITIES = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 9);

/**
 * The connection properties of Discord's web client in a desktop browser (Chrome on Windows), as a user login's
 * IDENTIFY sends them: `os`, `browser`, `device` (empty from browsers), `system_locale`, `browser_user_agent` (the
 * same User-Agent the REST calls send), `browser_version`, `os_version`, `referrer` / `referring_domain` (empty: no
 * referral), `release_channel`. `client_build_number` is left out: the bridge cannot know the current build.
 */
const USER_CLIENT_PROPERTIES = {
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
};

/** A bot names the library it runs on (Discord's "Identify Connection Properties"). */
const BOT_PROPERTIES = { os: "cloudflare-workers", browser: "matrix-inbox", device: "matrix-inbox" };

/**
 * IDENTIFY's `d` (Discord Gateway, "Identify"): a bot asks for `intents`; a user account has none (it receives what
 * its own client would) and sends a client's `properties` and `capabilities` instead, uncompressed (`compress`:
 * false, as the bot's is by default). No `presence`: the person's own status (online, idle, invisible) stays theirs.
 */
export function identifyData(login: DiscordLogin, intents: number): Record<string, unknown> {
  if (login.kind === "user") return { token: login.token, capabilities: USER_CAPABILITIES, properties: USER_CLIENT_PROPERTIES, compress: false };
  return { token: login.token, intents, properties: BOT_PROPERTIES };
}
