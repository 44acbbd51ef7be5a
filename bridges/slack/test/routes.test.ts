import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { slackBridgeRoutes } from "../routes";
import { signSlackRequest } from "../signature";
import { plainMessage, urlVerification } from "./fixtures/events";

/** The Worker's env with the bridge switched on (the DOs keep the Worker's own env, where it is off). */
const enabled = {
  ...env,
  SLACK_BRIDGE_ENABLED: "true",
  SLACK_BRIDGE_OWNER: "@me:localhost:8787",
  SLACK_API_BASE_URL: "http://127.0.0.1:9/api",
  SLACK_SIGNING_SECRET: "signing-secret",
  SLACK_BOT_TOKEN: "xoxb-test",
  SLACK_CLIENT_ID: "1111.2222",
  SLACK_CLIENT_SECRET: "client-secret",
  SLACK_AS_TOKEN: "as-token",
  SLACK_HS_TOKEN: "hs-token",
};

async function request(path: string, init: RequestInit, targetEnv: Env = enabled) {
  const ctx = createExecutionContext();
  const res = await slackBridgeRoutes.request(path, init, targetEnv, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

async function deliver(payload: unknown, opts: { secret?: string; ageSeconds?: number; retryNum?: number } = {}) {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000) - (opts.ageSeconds ?? 0));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-slack-request-timestamp": timestamp,
    "x-slack-signature": await signSlackRequest(opts.secret ?? "signing-secret", timestamp, body),
  };
  if (opts.retryNum !== undefined) {
    headers["x-slack-retry-num"] = String(opts.retryNum);
    headers["x-slack-retry-reason"] = "http_timeout";
  }
  return request("/events", { method: "POST", headers, body });
}

const status = async () => (await request("/status", { headers: { authorization: "Bearer hs-token" } })).body as { eventsAccepted: number; duplicatesDropped: number };

describe("the Events API request URL", () => {
  it("is not there while the bridge is off", async () => {
    expect((await request("/events", { method: "POST", body: "{}" }, env)).status).toBe(404);
  });

  it("answers url_verification with the challenge, when signed", async () => {
    expect(await deliver(urlVerification)).toEqual({ status: 200, body: { challenge: urlVerification.challenge } });
  });

  it("refuses (401) a bad signature, an old timestamp and an unsigned request, and records nothing", async () => {
    const before = await status();
    const event = { ...plainMessage, event_id: "EvRefused", event: { type: "app_mention" } };
    expect((await deliver(event, { secret: "not-the-secret" })).status).toBe(401);
    expect((await deliver(event, { ageSeconds: 6 * 60 })).status).toBe(401);
    expect((await request("/events", { method: "POST", body: JSON.stringify(event) })).status).toBe(401);
    expect(await status()).toEqual(before);
    // The same event, properly signed, is still new: the refused deliveries did not mark it seen.
    expect((await deliver(event)).status).toBe(200);
    expect((await status()).eventsAccepted).toBe(before.eventsAccepted + 1);
  });

  it("acknowledges a delivery and drops its retries by event_id", async () => {
    const before = await status();
    const event = { ...plainMessage, event_id: "EvRetried", event: { type: "app_mention" } };
    for (const retryNum of [undefined, 1, 2, 3]) expect((await deliver(event, retryNum === undefined ? {} : { retryNum })).status).toBe(200);
    expect(await status()).toMatchObject({ eventsAccepted: before.eventsAccepted + 1, duplicatesDropped: before.duplicatesDropped + 3 });
  });

  it("rejects a signed body that is not an envelope", async () => {
    expect((await deliver({ nope: true })).status).toBe(400);
    expect((await deliver({ type: "event_callback", team_id: "T1" })).status).toBe(200);
  });
});

describe("the bridge's transaction endpoint (Application Service API)", () => {
  const put = (body: unknown, token?: string) =>
    request("/_matrix/app/v1/transactions/1", {
      method: "PUT",
      headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });

  it("wants the hs_token: 401 without, 403 with another", async () => {
    expect((await put({ events: [] })).status).toBe(401);
    expect((await put({ events: [] }, "as-token")).status).toBe(403);
  });

  it("accepts events it does not act on (other types, strangers, rooms that are no portal)", async () => {
    const message = (sender: string) => ({ type: "m.room.message", event_id: `$${sender}`, room_id: "!nope:localhost:8787", sender, content: { msgtype: "m.text", body: "x" } });
    expect(await put({ events: [{ type: "m.room.topic" }, message("@stranger:localhost:8787"), message("@me:localhost:8787"), 42] }, "hs-token")).toEqual({ status: 200, body: {} });
  });
});

describe("the OAuth install routes", () => {
  /** A visit with a browser: the answer is a page, not JSON. */
  const visit = async (path: string) => {
    const ctx = createExecutionContext();
    const res = await slackBridgeRoutes.request(path, {}, enabled, ctx);
    await waitOnExecutionContext(ctx);
    return { status: res.status, text: await res.text() };
  };

  it("refuse a state that was never handed out, and a callback without a code, changing nothing", async () => {
    const install = await visit("/oauth/install?state=made-up");
    expect(install).toMatchObject({ status: 403, text: expect.stringContaining("not valid") });
    expect((await visit("/oauth/callback?state=made-up")).status).toBe(400);
    expect((await visit("/oauth/callback?code=c&state=made-up")).status).toBe(403);
    expect((await status()) as unknown).toMatchObject({ installs: [] });
  });

  it("are not there without the app's OAuth credentials", async () => {
    const { SLACK_CLIENT_ID: _id, SLACK_CLIENT_SECRET: _secret, ...withoutOAuth } = enabled;
    expect((await request("/oauth/install?state=x", {}, withoutOAuth as Env)).status).toBe(404);
  });
});
