import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { portalKey, remoteUserId } from "../core/ids";
import { portalStub } from "../core/portals";
import { slackBridge } from "./bridge-object";
import { SLACK_NETWORK_ID, type SlackConfig, ghostLocalpart, isBridgeUser, loadSlackConfig } from "./config";
import { Envelope, EventCallback, UrlVerification, slackDisplayName } from "./payloads";
import { type SlackDispatchContext, dispatch } from "./s2m/dispatcher";
import { verifySlackRequest } from "./signature";
import { SlackWebApi } from "./web-api";

type BridgeEnv = { Bindings: Env };

const Transaction = z.object({ events: z.array(z.unknown()) });
/** The events the bridge acts on: messages (m.text, m.notice, m.emote) in a portal room. */
const RoomMessage = z.object({
  type: z.literal("m.room.message"),
  event_id: z.string(),
  room_id: z.string(),
  sender: z.string(),
  content: z.object({
    msgtype: z.enum(["m.text", "m.notice", "m.emote"]),
    body: z.string(),
    format: z.literal("org.matrix.custom.html").optional(),
    formatted_body: z.string().optional(),
  }),
});

const appError = (c: Context<BridgeEnv>, status: 401 | 403 | 404, errcode: string, error: string) => c.json({ errcode, error }, status);

/** The homeserver's credentials (Application Service API, "Authorization"): the hs_token, as a header or legacy query. */
function checkHsToken(c: Context<BridgeEnv>, config: SlackConfig): Response | null {
  const header = c.req.header("authorization");
  const token = header?.startsWith("Bearer ") ? header.slice(7) : c.req.query("access_token");
  if (token === undefined) return appError(c, 401, "M_UNAUTHORIZED", "Missing hs_token");
  if (token !== config.identity.hsToken) return appError(c, 403, "M_FORBIDDEN", "Wrong hs_token");
  return null;
}

/** A SHA-256 of a token: enough to notice it changed, without storing it. */
async function tokenFingerprint(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The dispatcher's I/O: users.info (through the bridge object's cache), the portals, the room index. */
function dispatchContext(env: Env, config: SlackConfig): SlackDispatchContext {
  const api = new SlackWebApi({ baseUrl: config.apiBaseUrl, token: config.botToken });
  const bridge = slackBridge(env);
  const { serverName } = config.identity;
  return {
    botTeamId: async () => {
      const fingerprint = await tokenFingerprint(config.botToken);
      const known = await bridge.botIdentity(fingerprint);
      if (known !== null) return known.teamId;
      const me = await api.authTest();
      await bridge.rememberBotIdentity(fingerprint, { teamId: me.team_id, userId: me.user_id, botId: me.bot_id ?? null });
      return me.team_id;
    },
    ghostUserId: (team, user) => `@${ghostLocalpart(remoteUserId(`${team}:${user}`))}:${serverName}`,
    displayNames: async (team, userIds) => {
      const cached = await bridge.userNames(userIds.map((id) => `${team}:${id}`));
      const names: Record<string, string> = {};
      const fetched: Record<string, string> = {};
      await Promise.all(
        userIds.map(async (id) => {
          const known = cached[`${team}:${id}`];
          if (known !== undefined) return void (names[id] = known);
          try {
            names[id] = fetched[`${team}:${id}`] = slackDisplayName(await api.usersInfo(id));
          } catch (err) {
            // A name is not worth losing the message over: the id stands in, and is looked up again next time.
            console.warn(`slack users.info ${id}: ${(err as Error).message}`);
          }
        }),
      );
      if (Object.keys(fetched).length > 0) await bridge.rememberUserNames(fetched);
      return names;
    },
    toPortal: (event) => portalStub(env, SLACK_NETWORK_ID, event.portalKey).handleRemoteEvent(SLACK_NETWORK_ID, event),
    rememberPortal: (roomId, key) => bridge.rememberPortal(roomId, key),
  };
}

/** One event of a transaction: the person's message in a portal room goes to its Slack conversation. */
async function handleMatrixEvent(env: Env, config: SlackConfig, raw: unknown): Promise<void> {
  const event = RoomMessage.safeParse(raw);
  if (!event.success) return;
  const { event_id: eventId, room_id: roomId, sender, content } = event.data;
  // Our own ghosts' and bot's messages are our echoes; only the person's messages are acted on.
  if (isBridgeUser(sender, config.identity.serverName) || sender !== config.identity.owner) return;
  const key = await slackBridge(env).portalOfRoom(roomId);
  if (key === null) return;
  await portalStub(env, SLACK_NETWORK_ID, portalKey(key)).handleMatrixMessage(SLACK_NETWORK_ID, { eventId, roomId, sender, content });
}

/**
 * The Slack bridge's HTTP side, mounted at /_bridges/slack: the Events API request URL (`/events`) and, as an
 * application service, the homeserver's transactions (its registration's `url` points here).
 */
export const slackBridgeRoutes = new Hono<BridgeEnv>()
  /**
   * POST /events: Slack's Events API deliveries. Signed and fresh, or 401 with nothing done; answered at once
   * (Slack wants a 2xx within 3 s), the work continuing in the background; a redelivered event_id is dropped.
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
    if (!(await slackBridge(c.env).claimEvent(`${team}:${eventId}`))) return c.body(null, 200);
    c.executionCtx.waitUntil(
      dispatch(dispatchContext(c.env, config), callback.data).catch((err: unknown) => console.error(`slack event ${eventId}: ${(err as Error).message}`)),
    );
    return c.body(null, 200);
  })
  /** PUT /_matrix/app/v1/transactions/{txnId} */
  .put("/_matrix/app/v1/transactions/:txnId", async (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    const body = Transaction.safeParse(await c.req.json().catch(() => null));
    if (!body.success) return c.json({ errcode: "M_BAD_JSON", error: "Expected {events: [...]}" }, 400);
    // In order; a retried transaction is harmless (the portal de-duplicates by event id).
    for (const raw of body.data.events) {
      try {
        await handleMatrixEvent(c.env, config, raw);
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
    return checkHsToken(c, config) ?? c.json({});
  })
  /** GET /status: delivery counters (no secrets), with the hs_token: for operators and tests. */
  .get("/status", async (c) => {
    const config = loadSlackConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Slack bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    return c.json(await slackBridge(c.env).status());
  });
