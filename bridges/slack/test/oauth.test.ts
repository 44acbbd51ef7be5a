import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type SlackConfig, loadSlackConfig } from "../config";
import { BOT_SCOPES, USER_SCOPES, authorizeUrl, installLink, redirectUri } from "../oauth";

const config = loadSlackConfig({
  ...env,
  SLACK_BRIDGE_ENABLED: "true",
  SLACK_BRIDGE_OWNER: "@me:example.org",
  SLACK_SIGNING_SECRET: "s",
  SLACK_CLIENT_ID: "1111.2222",
  SLACK_CLIENT_SECRET: "cs",
  SLACK_AS_TOKEN: "as",
  SLACK_HS_TOKEN: "hs",
}) as SlackConfig;

describe("the OAuth install links", () => {
  it("login's link is this Worker's install route with the state", () => {
    expect(installLink("https://m.example/", "abc")).toBe("https://m.example/_bridges/slack/oauth/install?state=abc");
    expect(redirectUri("https://m.example/")).toBe("https://m.example/_bridges/slack/oauth/callback");
  });

  it("Slack's authorize page on the Web API's host, with the bot and user scopes, redirect URL and state", () => {
    const url = new URL(authorizeUrl(config, "1111.2222", "https://m.example/", "abc"));
    expect(`${url.origin}${url.pathname}`).toBe("https://slack.com/oauth/v2/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "1111.2222",
      scope: BOT_SCOPES.join(","),
      user_scope: USER_SCOPES.join(","),
      redirect_uri: "https://m.example/_bridges/slack/oauth/callback",
      state: "abc",
    });
    expect(BOT_SCOPES).toEqual(expect.arrayContaining(["chat:write", "channels:history", "files:read", "reactions:write", "users:read", "team:read"]));
    expect(USER_SCOPES).toEqual(expect.arrayContaining(["chat:write", "channels:write", "files:write", "reactions:write"]));
  });
});
