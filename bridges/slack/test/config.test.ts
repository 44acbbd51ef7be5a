import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { remoteUserId } from "../../core/ids";
import { SlackConfigError, ghostLocalpart, loadSlackConfig, slackUserOfGhost } from "../config";

const settings = {
  SLACK_BRIDGE_ENABLED: "true",
  SLACK_BRIDGE_OWNER: "@me:example.org",
  SLACK_SIGNING_SECRET: "secret",
  SLACK_BOT_TOKEN: "xoxb-1",
  SLACK_AS_TOKEN: "as",
  SLACK_HS_TOKEN: "hs",
};

describe("Slack bridge settings", () => {
  it("off unless SLACK_BRIDGE_ENABLED is true", () => {
    expect(loadSlackConfig({ ...env })).toBeNull();
  });

  it("defaults the Web API base URL, and keeps the tokens", () => {
    const config = loadSlackConfig({ ...env, ...settings });
    expect(config).toMatchObject({ apiBaseUrl: "https://slack.com/api", botToken: "xoxb-1", userToken: undefined, signingSecret: "secret" });
    expect(config?.identity).toMatchObject({ serverName: env.SERVER_NAME, owner: "@me:example.org", botLocalpart: "_slack_bot", protocol: { id: "slack" } });
  });

  it("a bad or missing setting is an error naming it", () => {
    expect(() => loadSlackConfig({ ...env, ...settings, SLACK_BOT_TOKEN: "xoxp-user" })).toThrow(/SLACK_BOT_TOKEN: must be a bot token/);
    expect(() => loadSlackConfig({ ...env, ...settings, SLACK_USER_TOKEN: "xoxb-bot" })).toThrow(/SLACK_USER_TOKEN/);
    const { SLACK_SIGNING_SECRET: _omitted, ...withoutSecret } = settings;
    expect(() => loadSlackConfig({ ...env, ...withoutSecret })).toThrow(SlackConfigError);
    expect(() => loadSlackConfig({ ...env, ...settings, SLACK_API_BASE_URL: "ftp://x" })).toThrow(/SLACK_API_BASE_URL/);
  });

  it("ghosts: lower-cased team and user, and back", () => {
    expect(ghostLocalpart(remoteUserId("T0001:U0042AB"))).toBe("_slack_t0001_u0042ab");
    expect(slackUserOfGhost("@_slack_t0001_u0042ab:example.org", "example.org")).toEqual({ team: "T0001", user: "U0042AB" });
    expect(slackUserOfGhost("@_slack_t0001_u0042ab:other.org", "example.org")).toBeUndefined();
    expect(slackUserOfGhost("@_slack_bot:example.org", "example.org")).toBeUndefined();
  });

  it("OAuth: client id and secret together, instead of (or beside) a bot token", () => {
    const { SLACK_BOT_TOKEN: _bot, ...withoutBot } = settings;
    expect(loadSlackConfig({ ...env, ...withoutBot, SLACK_CLIENT_ID: "1.2", SLACK_CLIENT_SECRET: "cs" })).toMatchObject({ botToken: undefined, oauth: { clientId: "1.2", clientSecret: "cs" } });
    expect(() => loadSlackConfig({ ...env, ...withoutBot })).toThrow(/SLACK_BOT_TOKEN: set a bot token, or SLACK_CLIENT_ID/);
    expect(() => loadSlackConfig({ ...env, ...settings, SLACK_CLIENT_ID: "1.2" })).toThrow(/SLACK_CLIENT_SECRET: set both or neither/);
    expect(() => loadSlackConfig({ ...env, ...settings, SLACK_APP_TOKEN: "xoxb-2" })).toThrow(/SLACK_APP_TOKEN/);
  });
});
