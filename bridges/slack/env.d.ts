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
    /** Secret: the app's bot token (xoxb-...), unless the app is installed through OAuth. */
    SLACK_BOT_TOKEN?: string;
    /** Secret, optional: a user token (xoxp-...): messages from Matrix are posted as the person themself. */
    SLACK_USER_TOKEN?: string;
    /** Secret, optional: an app-level token (xapp-...) with connections:write: events come over Socket Mode. */
    SLACK_APP_TOKEN?: string;
    /** The Slack app's client id: with the secret below, the Worker serves the OAuth install flow. */
    SLACK_CLIENT_ID?: string;
    /** Secret: the Slack app's client secret. */
    SLACK_CLIENT_SECRET?: string;
    /** Secrets: the tokens of the bridge's appservice registration (as_token / hs_token). */
    SLACK_AS_TOKEN?: string;
    SLACK_HS_TOKEN?: string;
  }
}
