import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { portalKey } from "../core/ids";
import { type BridgeMatrixEvent, parseBridgeEvent } from "../core/matrix/events";
import { MatrixIntent } from "../core/matrix/intent";
import { portalStub } from "../core/portals";
import { slackBridge } from "./bridge-object";
import { SLACK_NETWORK_ID, type SlackConfig, isBridgeUser, loadSlackConfig } from "./config";
import { slackManagementReply } from "./management";
import { authorizeUrl, redirectUri } from "./oauth";
import { Envelope, EventCallback, type OAuthAccess, UrlVerification } from "./payloads";
import { verifySlackRequest } from "./signature";
import { SlackApiError, SlackWebApi } from "./web-api";

type BridgeEnv = { Bindings: Env };

const Transaction = z.object({ events: z.array(z.unknown()), ephemeral: z.array(z.unknown()).optional() });

/** The OAuth callback's query: Slack's code and our state (an `error` instead when the person declined). */
const OAuthCallback = z.object({ code: z.string().min(1), state: z.string().min(1) });

/** A plain page for the person's browser (the OAuth routes are visited, not called). */
function oauthPage(c: Context<BridgeEnv>, status: 200 | 400 | 403 | 502, text: string): Response {
  const html = `<!doctype html><meta charset="utf-8"><title>Slack bridge</title><p>${text.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</p>`;
  return c.html(html, status);
}

const appError = (c: Context<BridgeEnv>, status: 401 | 403 | 404, errcode: string, error: string) => c.json({ errcode, error }, status);

/** The homeserver's credentials (Application Service API, "Authorization"): the hs_token, as a header or legacy query. */
function checkHsToken(c: Context<BridgeEnv>, config: SlackConfig): Response | null {
  const header = c.req.header("authorization");
  const token = header?.startsWith("Bearer ") ? header.slice(7) : c.req.query("access_token");
  if (token === undefined) return appError(c, 401, "M_UNAUTHORIZED", "Missing hs_token");
  if (token !== config.identity.hsToken) return appError(c, 403, "M_FORBIDDEN", "Wrong hs_token");
  return null;
}

/** Keeps Socket Mode up (when configured): every call from the homeserver is a chance to notice it dropped. */
function keepSocketUp(c: Context<BridgeEnv>, config: SlackConfig): void {
  if (config.appToken === undefined) return;
  c.executionCtx.waitUntil(slackBridge(c.env).ensureConnected().catch((err: unknown) => console.warn(`slack socket mode: ${(err as Error).message}`)));
}

/** One event of a transaction: a management-room invite or command, or the person's action in a portal room. */
async function handleMatrixEvent(env: Env, config: SlackConfig, intent: MatrixIntent, event: BridgeMatrixEvent): Promise<void> {
  const { identity } = config;
  const bridge = slackBridge(env);
  const bot = `@${identity.botLocalpart}:${identity.serverName}`;
  if (event.kind === "invite") {
    if (event.stateKey === bot && event.sender === identity.owner) {
      await intent.join(bot, event.roomId);
      await bridge.addManagementRoom(event.roomId);
    }
    return;
  }
  if (event.kind === "typing") return;
  if (event.kind === "receipt") {
    // The person's read marker moves Slack's (conversations.mark, with the user token).
    if (!event.reads.some((r) => r.userId === identity.owner)) return;
    const key = await bridge.portalOfRoom(event.roomId);
    const last = event.reads.filter((r) => r.userId === identity.owner).at(-1);
    if (key !== null && last !== undefined) await portalStub(env, SLACK_NETWORK_ID, portalKey(key)).handleMatrixReceipt(SLACK_NETWORK_ID, last.eventId);
    return;
  }
  const sender = event.kind === "message" ? event.message.sender : event.sender;
  const roomId = event.kind === "message" ? event.message.roomId : event.roomId;
  // Our own ghosts' and bot's events are our echoes; only the person's events are acted on.
  if (isBridgeUser(sender, identity.serverName) || sender !== identity.owner) return;
  if (event.kind === "message" && (await bridge.isManagementRoom(roomId))) {
    const reply = await slackManagementReply(event.message.content.body, { env, config, bridge });
    await intent.sendMessage(bot, roomId, { msgtype: "m.notice", body: reply }, Date.now(), `reply.${event.message.eventId}`);
    return;
  }
  const key = await bridge.portalOfRoom(roomId);
  if (key === null) return;
  const portal = portalStub(env, SLACK_NETWORK_ID, portalKey(key));
  if (event.kind === "message") await portal.handleMatrixMessage(SLACK_NETWORK_ID, event.message);
  else await portal.handleMatrixChange(SLACK_NETWORK_ID, event);
}

/**
 * The Slack bridge's HTTP side, mounted at /_bridges/slack: the Events API request URL (`/events`), the OAuth
 * install flow (`/oauth/install`, `/oauth/callback`) and, as an application service, the homeserver's transactions
 * (its registration's `url` points here).
 */
export const slackBridgeRoutes = new Hono<BridgeEnv>()
  /**
   * POST /events: Slack's Events API deliveries. Signed and fresh, or 401 with nothing done; recorded in the bridge
   * object's durable inbox (a redelivered event_id is dropped there) and answered at once (Slack wants a 2xx within
   * 3 s), the bridging continuing in the background, retried until it is done.
   */
  .post("/events", async (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const raw = await c.req.text();
    const headers = { timestamp: c.req.header("x-slack-request-timestamp"), signature: c.req.header("x-slack-signature") };
    const check = await verifySlackRequest(config.signingSecret, headers, raw, Date.now());
    if (!check.ok) {
      console.warn(`slack events: refused a delivery: ${check.reason}`);
      return c.json({ error: check.reason }, 401);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return c.json({ error: "body is not JSON" }, 400);
    }
    const envelope = Envelope.safeParse(json);
    if (!envelope.success) return c.json({ error: "not an Events API envelope" }, 400);
    const verification = UrlVerification.safeParse(envelope.data);
    if (verification.success) return c.json({ challenge: verification.data.challenge });
    const callback = EventCallback.safeParse(envelope.data);
    if (!callback.success) return c.body(null, 200);
    const { team_id: team, event_id: eventId } = callback.data;
    await slackBridge(c.env).accept(`${team}:${eventId}`, JSON.stringify(callback.data));
    return c.body(null, 200);
  })
  /** GET /oauth/install?state=: the `login` link; a good state redirects to Slack's authorize page. */
  .get("/oauth/install", async (c) => {
    const config = loadSlackConfig(c.env);
    if (config?.oauth === undefined) return appError(c, 404, "M_UNRECOGNIZED", "The Slack OAuth install is not configured");
    const state = c.req.query("state") ?? "";
    if (!(await slackBridge(c.env).checkOAuthState(state, false))) return oauthPage(c, 403, "This link is not valid (or it expired): say \"login\" again.");
    return c.redirect(authorizeUrl(config, config.oauth.clientId, c.env.PUBLIC_BASEURL, state), 302);
  })
  /** GET /oauth/callback?code=&state=: Slack's answer; the code becomes the workspace's tokens, sealed. */
  .get("/oauth/callback", async (c) => {
    const config = loadSlackConfig(c.env);
    if (config?.oauth === undefined) return appError(c, 404, "M_UNRECOGNIZED", "The Slack OAuth install is not configured");
    const query = OAuthCallback.safeParse(c.req.query());
    if (!query.success) return oauthPage(c, 400, "Slack did not send an install code.");
    const bridge = slackBridge(c.env);
    if (!(await bridge.checkOAuthState(query.data.state, true))) return oauthPage(c, 403, "This install was not started here (or it expired): say \"login\" again.");
    const { oauth } = config;
    const api = new SlackWebApi({ baseUrl: config.apiBaseUrl, token: "" });
    let access: OAuthAccess;
    try {
      access = await api.oauthAccess(oauth.clientId, oauth.clientSecret, query.data.code, redirectUri(c.env.PUBLIC_BASEURL));
    } catch (err) {
      return oauthPage(c, 502, `Slack refused the install: ${err instanceof SlackApiError ? err.error : (err as Error).message}.`);
    }
    await bridge.install({
      teamId: access.team.id,
      teamName: access.team.name,
      botToken: access.access_token,
      ...(access.authed_user?.access_token !== undefined ? { userToken: access.authed_user.access_token, userId: access.authed_user.id } : {}),
      ...(access.bot_user_id !== undefined ? { botUserId: access.bot_user_id } : {}),
    });
    return oauthPage(c, 200, `Installed in ${access.team.name}. You can close this page; the bridge is on.`);
  })
  /** PUT /_matrix/app/v1/transactions/{txnId} */
  .put("/_matrix/app/v1/transactions/:txnId", async (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    const body = Transaction.safeParse(await c.req.json().catch(() => null));
    if (!body.success) return c.json({ errcode: "M_BAD_JSON", error: "Expected {events: [...]}" }, 400);
    keepSocketUp(c, config);
    const intent = new MatrixIntent((request) => c.executionCtx.exports.default.fetch(request), c.env.PUBLIC_BASEURL, config.identity.asToken);
    // In order; a retried transaction is harmless (the portal de-duplicates by event id, replies use stable txnIds).
    for (const raw of [...body.data.events, ...(body.data.ephemeral ?? [])]) {
      const event = parseBridgeEvent(raw);
      if (event === null) continue;
      try {
        await handleMatrixEvent(c.env, config, intent, event);
      } catch (err) {
        // Not retried by failing the transaction: one bad event must not hold up everything behind it.
        const id = typeof raw === "object" && raw !== null && "event_id" in raw ? String(raw.event_id) : "?";
        console.error(`slack bridge: event ${id} not handled: ${(err as Error).message}`);
      }
    }
    return c.json({});
  })
  /** POST /_matrix/app/v1/ping */
  .post("/_matrix/app/v1/ping", (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    keepSocketUp(c, config);
    return c.json({});
  })
  /** GET /status: delivery counters (no secrets), with the hs_token: for operators and tests. */
  .get("/status", async (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    return c.json(await slackBridge(c.env).status());
  });
