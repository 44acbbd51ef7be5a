// Discord bridge settings (README "Discord bridge"). Optional, so not in wrangler.toml [vars], where
// `wrangler types` would type them as literals. Tokens are Worker secrets (.dev.vars locally).
declare namespace Cloudflare {
  interface Env {
    /** "true" turns the bridge on; everything else below is then checked at start. */
    DISCORD_BRIDGE_ENABLED?: string;
    /** The Matrix user the bridge works for: invited to every portal. */
    DISCORD_BRIDGE_OWNER?: string;
    /** Discord REST base URL (default https://discord.com/api/v10); tests point it at a fake. */
    DISCORD_API_BASE_URL?: string;
    /** Discord CDN base URL (default https://cdn.discordapp.com): avatars and icons. */
    DISCORD_CDN_BASE_URL?: string;
    /** How many recent messages `bridge` brings into a new portal (default 50, at most 1000). */
    DISCORD_BACKFILL_LIMIT?: string;
    /** "true": ask for the privileged GUILD_MEMBERS intent (enable it in the developer portal first). */
    DISCORD_GUILD_MEMBERS_INTENT?: string;
    /**
     * "true" allows `login user <token>`: the bridge logs in as the person's own Discord account (default off;
     * Discord's terms of service forbid automating user accounts, which can be banned for it).
     */
    DISCORD_ALLOW_USER_TOKEN?: string;
    /** Secret, optional: the Discord bot token (else `login <token>` in a management room). */
    DISCORD_BOT_TOKEN?: string;
    /** Secrets: the tokens of the bridge's appservice registration (as_token / hs_token). */
    DISCORD_AS_TOKEN?: string;
    DISCORD_HS_TOKEN?: string;
  }
}
