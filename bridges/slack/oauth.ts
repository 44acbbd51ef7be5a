import type { SlackConfig } from "./config";

/**
 * The OAuth install flow (https://api.slack.com/authentication/oauth-v2): `login` in the management room hands out
 * a link to `/oauth/install` with a one-time state; that redirects to Slack's authorize page with the scopes of
 * `manifest.yaml`; Slack sends the person back to `/oauth/callback` with a code, which oauth.v2.access exchanges
 * for the bot token and the person's user token, stored sealed per workspace.
 */

/** The scopes of manifest.yaml: the bot's, and the person's (user_scope). */
export const BOT_SCOPES = [
  "channels:history",
  "channels:read",
  "groups:history",
  "groups:read",
  "im:history",
  "im:read",
  "mpim:history",
  "mpim:read",
  "users:read",
  "team:read",
  "files:read",
  "files:write",
  "reactions:read",
  "reactions:write",
  "chat:write",
  "chat:write.customize",
  "emoji:read",
];
export const USER_SCOPES = [
  "channels:history",
  "channels:read",
  "channels:write",
  "groups:history",
  "groups:write",
  "im:history",
  "im:write",
  "mpim:history",
  "mpim:write",
  "chat:write",
  "files:write",
  "reactions:write",
];

export const OAUTH_PATH = "/_bridges/slack/oauth";

/** Where Slack sends the person back (must be one of the app's redirect URLs). */
export const redirectUri = (publicBaseUrl: string): string => new URL(`${OAUTH_PATH}/callback`, publicBaseUrl).toString();

/** The link `login` prints: this Worker's install route, with the one-time state. */
export function installLink(publicBaseUrl: string, state: string): string {
  const url = new URL(`${OAUTH_PATH}/install`, publicBaseUrl);
  url.searchParams.set("state", state);
  return url.toString();
}

/** Slack's authorize page, on the Web API's host (`https://slack.com/oauth/v2/authorize`). */
export function authorizeUrl(config: SlackConfig, clientId: string, publicBaseUrl: string, state: string): string {
  const url = new URL("/oauth/v2/authorize", config.apiBaseUrl);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("scope", BOT_SCOPES.join(","));
  url.searchParams.set("user_scope", USER_SCOPES.join(","));
  url.searchParams.set("redirect_uri", redirectUri(publicBaseUrl));
  url.searchParams.set("state", state);
  return url.toString();
}
