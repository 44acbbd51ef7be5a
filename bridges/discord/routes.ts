import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { portalKey } from "../core/ids";
import { portalStub } from "../core/portals";
import { DISCORD_NETWORK_ID, type DiscordConfig, isBridgeUser, loadDiscordConfig } from "./config";
import { MatrixIntent } from "../core/matrix/intent";
import { discordGateway } from "./gateway/gateway-object";
import { parseBridgeEvent } from "../core/matrix/events";
import { isSignedAvatar } from "./public-media";

type BridgeEnv = { Bindings: Env };

/** Largest avatar served to Discord (its own avatar limit is lower). */
const MAX_AVATAR_BYTES = 10 * 1024 * 1024;

/** A transaction: room events, and (receive_ephemeral, MSC2409) typing and receipts. */
const Transaction = z.object({
  events: z.array(z.unknown()),
  ephemeral: z.array(z.unknown()).optional(),
  "de.sorunome.msc2409.ephemeral": z.array(z.unknown()).optional(),
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

/** One event of a transaction: a management-room invite or command, or the person's doing in a portal. */
async function handleEvent(env: Env, config: DiscordConfig, intent: MatrixIntent, raw: unknown): Promise<void> {
  const { identity } = config;
  const event = parseBridgeEvent(raw);
  if (event === null) return;
  const gateway = discordGateway(env);
  const bot = `@${identity.botLocalpart}:${identity.serverName}`;
  if (event.kind === "invite") {
    if (event.stateKey === bot && event.sender === identity.owner) {
      await intent.join(bot, event.roomId);
      await gateway.addManagementRoom(event.roomId);
    }
    return;
  }
  if (event.kind === "typing") {
    const key = await gateway.portalOfRoom(event.roomId);
    if (key !== null) await portalStub(env, DISCORD_NETWORK_ID, portalKey(key)).handleMatrixTyping(DISCORD_NETWORK_ID, event.userIds.includes(identity.owner));
    return;
  }
  if (event.kind === "receipt") {
    const read = event.reads.filter((r) => r.userId === identity.owner).at(-1);
    const key = await gateway.portalOfRoom(event.roomId);
    if (read !== undefined && key !== null) await portalStub(env, DISCORD_NETWORK_ID, portalKey(key)).handleMatrixReceipt(DISCORD_NETWORK_ID, read.eventId);
    return;
  }
  const sender = event.kind === "message" ? event.message.sender : event.sender;
  const roomId = event.kind === "message" ? event.message.roomId : event.roomId;
  // Our own ghosts' and bot's events are our echoes; only the person's events are acted on.
  if (isBridgeUser(sender, identity.serverName) || sender !== identity.owner) return;
  if (event.kind === "message" && (await gateway.isManagementRoom(roomId))) {
    const reply = await gateway.runCommand(event.message.content.body);
    await intent.sendMessage(bot, roomId, { msgtype: "m.notice", body: reply }, Date.now(), `reply.${event.message.eventId}`);
    return;
  }
  const key = await gateway.portalOfRoom(roomId);
  if (key === null) return;
  const portal = portalStub(env, DISCORD_NETWORK_ID, portalKey(key));
  if (event.kind === "message") await portal.handleMatrixMessage(DISCORD_NETWORK_ID, event.message);
  else await portal.handleMatrixChange(DISCORD_NETWORK_ID, event);
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
    const ephemeral = body.data.ephemeral ?? body.data["de.sorunome.msc2409.ephemeral"] ?? [];
    for (const raw of [...body.data.events, ...ephemeral]) {
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
  /**
   * GET /avatar/{serverName}/{mediaId}/{signature}: a Matrix avatar the bridge handed to Discord (a webhook's
   * avatar_url), served without authentication only under the bridge's signature; images only.
   */
  .get("/avatar/:serverName/:mediaId/:sig", async (c) => {
    const config = loadDiscordConfig(c.env);
    const { serverName, mediaId, sig } = c.req.param();
    if (!config || !(await isSignedAvatar(c.env, serverName, mediaId, sig))) return appError(c, 404, "M_NOT_FOUND", "No such avatar");
    const intent = new MatrixIntent((request) => c.executionCtx.exports.default.fetch(request), c.env.PUBLIC_BASEURL, config.identity.asToken);
    const file = await intent.download(`mxc://${serverName}/${mediaId}`, MAX_AVATAR_BYTES).catch(() => null);
    if (file === null || !file.contentType?.startsWith("image/")) return appError(c, 404, "M_NOT_FOUND", "No such avatar");
    return new Response(file.bytes, { headers: { "content-type": file.contentType, "cache-control": "public, max-age=86400" } });
  })
  /** GET /status: the gateway's state (no secrets), with the hs_token: for operators and tests. */
  .get("/status", async (c) => {
    const config = loadDiscordConfig(c.env);
    if (!config) return appError(c, 404, "M_UNRECOGNIZED", "The Discord bridge is not enabled");
    const denied = checkHsToken(c, config);
    if (denied) return denied;
    return c.json(await discordGateway(c.env).status());
  });
