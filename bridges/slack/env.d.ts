// Slack bridge settings (README "Slack bridge"). Optional, so not in wrangler.toml [vars], where `wrangler types`
// would type them as literals. Tokens and the signing secret are Worker secrets (.dev.vars locally).
declare namespace Cloudflare {
  interface Env {
    /** "true" turns the bridge on; everything else below is then checked at start. */
    SLACK_BRIDGE_ENABLED?: string;
    /** The Matrix user the bridge works for: invited to every portal. */
    SLACK_BRIDGE_OWNER?: string;
    /** Slack Web API base URL (default https://slack.com/api); tests point it at a fake. */
    SLACK_API_BASE_URL?: string;
    /** Secret: the app's signing secret, which signs every Events API delivery. */
    SLACK_SIGNING_SECRET?: string;
    /** Secret: the app's bot token (xoxb-...). */
    SLACK_BOT_TOKEN?: string;
    /** Secret, optional: a user token (xoxp-...), not used by this slice yet. */
    SLACK_USER_TOKEN?: string;
    /** Secrets: the tokens of the bridge's appservice registration (as_token / hs_token). */
    SLACK_AS_TOKEN?: string;
    SLACK_HS_TOKEN?: string;
  }
}
