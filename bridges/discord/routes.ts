import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { portalKey } from "../core/ids";
import { portalStub } from "../core/portals";
import { DISCORD_NETWORK_ID, type DiscordConfig, isBridgeUser, loadDiscordConfig } from "./config";
import { MatrixIntent } from "../core/matrix/intent";
import { discordGateway } from "./gateway/gateway-object";
import { managementReply } from "./management";
import { stripReplyFallback } from "./m2d/convert-message";

type BridgeEnv = { Bindings: Env };

const Transaction = z.object({ events: z.array(z.unknown()) });
const TextContent = z.object({
  msgtype: z.enum(["m.text", "m.notice", "m.emote"]),
  body: z.string(),
  format: z.literal("org.matrix.custom.html").optional(),
  formatted_body: z.string().optional(),
});

/** The events the bridge acts on: messages (m.text, m.notice, m.emote) in a portal room, replies and edits too. */
const RoomMessage = z.object({
  type: z.literal("m.room.message"),
  event_id: z.string(),
  room_id: z.string(),
  sender: z.string(),
  content: TextContent.extend({
    "m.relates_to": z
      .object({ rel_type: z.string().optional(), event_id: z.string().optional(), "m.in_reply_to": z.object({ event_id: z.string() }).optional() })
      .optional(),
    "m.new_content": TextContent.optional(),
  }),
});

/** A reaction (an m.annotation of an event). */
const Reaction = z.object({
  type: z.literal("m.reaction"),
  event_id: z.string(),
  room_id: z.string(),
  sender: z.string(),
  content: z.object({ "m.relates_to": z.object({ rel_type: z.literal("m.annotation"), event_id: z.string(), key: z.string() }) }),
});

/** A redaction: `redacts` at the top (room versions up to 10) or in the content (v11). */
const Redaction = z.object({
  type: z.literal("m.room.redaction"),
  event_id: z.string(),
  room_id: z.string(),
  sender: z.string(),
  redacts: z.string().optional(),
  content: z.object({ redacts: z.string().optional() }),
});

/** The owner inviting the bot: the room becomes a management room. */
const BotInvite = z.object({
  type: z.literal("m.room.member"),
  room_id: z.string(),
  sender: z.string(),
  state_key: z.string(),
  content: z.object({ membership: z.literal("invite") }),
});

const appError = (c: Context<BridgeEnv>, status: 401 | 403 | 404, errcode: string, error: string) => c.json({ errcode, error }, status);

/** The homeserver's credentials (Application Service API, "Authorization"): the hs_token, as a header or legacy query. */
function checkHsToken(c: Context<BridgeEnv>, config: DiscordConfig): Response | null {
  const header = c.req.header("authorization");
  const token = header?.startsWith("Bearer ") ? header.slice(7) : c.req.query("access_token");
  if (token === undefined) return appError(c, 401, "M_UNAUTHORIZED", "Missing hs_token");
  if (token !== config.identity.hsToken) return appError(c, 403, "M_FORBIDDEN", "Wrong hs_token");
  return null;
}

/** Keeps the gateway up: every call from the homeserver is a chance to notice it dropped. */
function keepGatewayUp(c: Context<BridgeEnv>): void {
  c.executionCtx.waitUntil(discordGateway(c.env).ensureConnected().catch((err: unknown) => console.warn(`discord gateway: ${(err as Error).message}`)));
}

/** One event of a transaction: a management-room invite or command, or the person's message in a portal. */
async function handleEvent(env: Env, config: DiscordConfig, intent: MatrixIntent, raw: unknown): Promise<void> {
  const { identity } = config;
  const gateway = discordGateway(env);
  const bot = `@${identity.botLocalpart}:${identity.serverName}`;
  const invite = BotInvite.safeParse(raw);
  if (invite.success && invite.data.state_key === bot && invite.data.sender === identity.owner) {
    await intent.join(bot, invite.data.room_id);
    await gateway.addManagementRoom(invite.data.room_id);
    return;
  }
  const parsed = z.union([RoomMessage, Reaction, Redaction]).safeParse(raw);
  if (!parsed.success) return;
  const { event_id: eventId, room_id: roomId, sender } = parsed.data;
  // Our own ghosts' and bot's events are our echoes; only the person's events are acted on.
  if (isBridgeUser(sender, identity.serverName) || sender !== identity.owner) return;
  const event = parsed.data;
  if (event.type === "m.room.message" && (await gateway.isManagementRoom(roomId))) {
    const reply = managementReply(event.content.body, await gateway.status());
    await intent.sendMessage(bot, roomId, { msgtype: "m.notice", body: reply }, Date.now(), `reply.${eventId}`);
    return;
  }
  const key = await gateway.portalOfRoom(roomId);
  if (key === null) return;
  const portal = portalStub(env, DISCORD_NETWORK_ID, portalKey(key));
  if (event.type === "m.reaction") {
    const { event_id: targetEventId, key: emoji } = event.content["m.relates_to"];
    await portal.handleMatrixChange(DISCORD_NETWORK_ID, { kind: "reaction", eventId, roomId, sender, targetEventId, key: emoji });
    return;
  }
  if (event.type === "m.room.redaction") {
    const redacts = event.content.redacts ?? event.redacts;
    if (redacts !== undefined) await portal.handleMatrixChange(DISCORD_NETWORK_ID, { kind: "redaction", eventId, roomId, sender, redacts });
    return;
  }
  const { "m.relates_to": relation, "m.new_content": newContent, ...rest } = event.content;
  const content = { msgtype: rest.msgtype, body: rest.body, ...(rest.format !== undefined ? { format: rest.format } : {}), ...(rest.formatted_body !== undefined ? { formatted_body: rest.formatted_body } : {}) };
  if (relation?.rel_type === "m.replace") {
    if (relation.event_id === undefined || newContent === undefined) return;
    await portal.handleMatrixChange(DISCORD_NETWORK_ID, { kind: "edit", eventId, roomId, sender, targetEventId: relation.event_id, content: newContent });
    return;
  }
  const replyToEventId = relation?.["m.in_reply_to"]?.event_id;
  if (replyToEventId !== undefined) content.body = stripReplyFallback(content.body);
  await portal.handleMatrixMessage(DISCORD_NETWORK_ID, { eventId, roomId, sender, content, ...(replyToEventId !== undefined ? { replyToEventId } : {}) });
}

/**
 * The Discord bridge as an application service (the Application Service API's homeserver -> appservice side),
 * mounted at /_bridges/discord: its registration's `url` points here, and transactions arrive exactly as for an
 * external bridge, from the appservice queue over HTTP.
 */
export const discordBridgeRoutes = new Hono<BridgeEnv>()
  /** PUT /_matrix/app/v1/transactions/{txnId} */
  .put("/_matrix/app/v1/transactions/:txnId", async (c) => {
    const config = loadDiscordConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Discord bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    const body = Transaction.safeParse(await c.req.json().catch(() => null));
    if (!body.success) return c.json({ errcode: "M_BAD_JSON", error: "Expected {events: [...]}" }, 400);
    keepGatewayUp(c);
    const intent = new MatrixIntent((request) => c.executionCtx.exports.default.fetch(request), c.env.PUBLIC_BASEURL, config.identity.asToken);
    // In order; a retried transaction is harmless (the portal de-duplicates by event id, replies use stable txnIds).
    for (const raw of body.data.events) {
      try {
        await handleEvent(c.env, config, intent, raw);
      } catch (err) {
        // Not retried by failing the transaction: one bad event must not hold up everything behind it.
        const id = typeof raw === "object" && raw !== null && "event_id" in raw ? String(raw.event_id) : "?";
        console.error(`discord bridge: event ${id} not handled: ${(err as Error).message}`);
      }
    }
    return c.json({});
  })
  /** POST /_matrix/app/v1/ping */
  .post("/_matrix/app/v1/ping", async (c) => {
    const config = loadDiscordConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Discord bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    keepGatewayUp(c);
    return c.json({});
  })
  /** GET /status: the gateway's state (no secrets), with the hs_token: for operators and tests. */
  .get("/status", async (c) => {
    const config = loadDiscordConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Discord bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    return c.json(await discordGateway(c.env).status());
  });
