import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { MatrixError, forbidden, notFound } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery, readJson } from "../../http/validate";
import { CreateRoomBody, createRoom } from "../../services/create-room";
import { upgradeRoom } from "../../services/upgrade-room";
import { clientEvents } from "../../services/client-events";
import { parseAlias } from "../../services/aliases";
import { assertCanRead } from "../../services/messages";
import { roomObject, unwrap } from "../../services/room-client";
import { checkStateContent } from "../../services/state-content";
import { filterVisible } from "../../services/visibility";
import { getAlias } from "../../storage/aliases";
import { getCurrentStateRow, getCurrentStateRows, getEventRow, getStateRowsAt } from "../../storage/events";
import { roomsWithMembership } from "../../storage/rooms";
import type { Pdu } from "../../rooms/pdu";
import { txnScope } from "../../services/txn-scope";
import type { Context } from "hono";

const RoomIdParam = z.string().regex(/^![^\s]+$/, "must be a room id");

/** The room id path parameter, validated so storage never sees garbage. */
export function roomIdOf(c: Context<AppEnv>): string {
  const parsed = RoomIdParam.safeParse(c.req.param("roomId"));
  if (!parsed.success) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid room id");
  return parsed.data;
}

/** The state a user may see: current state while joined, else the state when they left (or world-readable). */
async function visibleStateRows(db: D1Database, roomId: string, userId: string) {
  const membership = await assertCanRead(db, roomId, userId);
  if (membership === "join" || membership === null) return getCurrentStateRows(db, roomId);
  const own = await getCurrentStateRow(db, roomId, "m.room.member", userId);
  return getStateRowsAt(db, roomId, own!.stream_ordering);
}

export const rooms = new Hono<AppEnv>()
  .use("/v3/createRoom", requireAuth)
  .use("/v3/rooms/*", requireAuth)
  .use("/v3/joined_rooms", requireAuth)
  /** POST /_matrix/client/v3/createRoom */
  .post("/v3/createRoom", async (c) => {
    const body = await parseBody(c, CreateRoomBody, { allowEmpty: true });
    const roomId = await createRoom(c.env, c.var.config, c.var.requester, body);
    return c.json({ room_id: roomId });
  })
  /** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} */
  .put("/v3/rooms/:roomId/send/:eventType/:txnId", async (c) => {
    const roomId = roomIdOf(c);
    const content = (await readJson(c)) as Record<string, unknown>;
    const { userId, deviceId } = c.var.requester;
    const txn = { userId, deviceId, scope: txnScope("send", roomId), txnId: c.req.param("txnId") };
    const sent = unwrap(
      await roomObject(c.env, roomId).send(roomId, { type: c.req.param("eventType"), sender: userId, content }, { txn }),
    );
    return c.json({ event_id: sent.event_id });
  })
  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (the state key may be empty) */
  .put("/v3/rooms/:roomId/state/:eventType/:stateKey?", async (c) => {
    const roomId = roomIdOf(c);
    const type = c.req.param("eventType");
    const stateKey = c.req.param("stateKey") ?? "";
    const content = (await readJson(c)) as Record<string, unknown>;
    checkStateContent(type, content);
    if (type === "m.room.canonical_alias") await checkCanonicalAlias(c.env.DB, roomId, content);
    const sender = c.var.requester.userId;
    const sent = unwrap(await roomObject(c.env, roomId).send(roomId, { type, state_key: stateKey, sender, content }));
    return c.json({ event_id: sent.event_id });
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/state */
  .get("/v3/rooms/:roomId/state", async (c) => {
    const roomId = roomIdOf(c);
    const rows = await visibleStateRows(c.env.DB, roomId, c.var.requester.userId);
    return c.json(await clientEvents(c.env.DB, c.var.requester, rows));
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  .get("/v3/rooms/:roomId/state/:eventType/:stateKey?", async (c) => {
    const roomId = roomIdOf(c);
    const type = c.req.param("eventType");
    const stateKey = c.req.param("stateKey") ?? "";
    const rows = await visibleStateRows(c.env.DB, roomId, c.var.requester.userId);
    const row = rows.find((r) => r.type === type && r.state_key === stateKey);
    if (!row) throw notFound("State event not found");
    const format = c.req.query("format");
    if (format === "event") return c.json((await clientEvents(c.env.DB, c.var.requester, [row]))[0]);
    return c.json((JSON.parse(row.pdu) as Pdu).content);
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
  .get("/v3/rooms/:roomId/event/:eventId", async (c) => {
    const roomId = roomIdOf(c);
    await assertCanRead(c.env.DB, roomId, c.var.requester.userId);
    const row = await getEventRow(c.env.DB, c.req.param("eventId"));
    if (!row || row.room_id !== roomId) throw notFound("Event not found");
    if ((await filterVisible(c.env.DB, roomId, c.var.requester.userId, [row])).length === 0) throw notFound("Event not found");
    return c.json((await clientEvents(c.env.DB, c.var.requester, [row]))[0]);
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
  .post("/v3/rooms/:roomId/upgrade", async (c) => {
    const { new_version } = await parseBody(c, z.object({ new_version: z.string().min(1).max(32) }));
    const replacement = await upgradeRoom(c.env, c.var.config, c.var.requester, roomIdOf(c), new_version);
    return c.json({ replacement_room: replacement });
  })
  /** GET /_matrix/client/v3/joined_rooms */
  .get("/v3/joined_rooms", async (c) => c.json({ joined_rooms: await roomsWithMembership(c.env.DB, c.var.requester.userId, "join") }))
  /** GET /_matrix/client/v3/rooms/{roomId}/members */
  .get("/v3/rooms/:roomId/members", async (c) => {
    const roomId = roomIdOf(c);
    const query = parseQuery(
      c,
      z.object({
        at: z.string().optional(),
        membership: z.enum(["join", "invite", "knock", "leave", "ban"]).optional(),
        not_membership: z.enum(["join", "invite", "knock", "leave", "ban"]).optional(),
      }),
    );
    const rows = (await visibleStateRows(c.env.DB, roomId, c.var.requester.userId)).filter((r) => {
      if (r.type !== "m.room.member") return false;
      const membership = (JSON.parse(r.pdu) as Pdu).content["membership"];
      if (query.membership && membership !== query.membership) return false;
      return !(query.not_membership && membership === query.not_membership);
    });
    return c.json({ chunk: await clientEvents(c.env.DB, c.var.requester, rows) });
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
  .get("/v3/rooms/:roomId/joined_members", async (c) => {
    const roomId = roomIdOf(c);
    const membership = await assertCanRead(c.env.DB, roomId, c.var.requester.userId);
    if (membership !== "join") throw forbidden("You are not joined to this room");
    const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
    for (const row of await getCurrentStateRows(c.env.DB, roomId)) {
      if (row.type !== "m.room.member") continue;
      const content = (JSON.parse(row.pdu) as Pdu).content;
      if (content["membership"] !== "join") continue;
      const member: { display_name?: string; avatar_url?: string } = {};
      if (typeof content["displayname"] === "string") member.display_name = content["displayname"];
      if (typeof content["avatar_url"] === "string") member.avatar_url = content["avatar_url"];
      joined[row.state_key!] = member;
    }
    return c.json({ joined });
  });

/** m.room.canonical_alias may only name aliases that exist and point to this room (M_BAD_ALIAS). */
async function checkCanonicalAlias(db: D1Database, roomId: string, content: Record<string, unknown>): Promise<void> {
  const aliases = [content["alias"], ...((content["alt_aliases"] as unknown[] | undefined) ?? [])].filter((a) => typeof a === "string");
  for (const alias of aliases as string[]) {
    if (!parseAlias(alias)) throw new MatrixError(400, "M_INVALID_PARAM", `Invalid alias ${alias}`);
    const row = await getAlias(db, alias);
    if (!row || row.room_id !== roomId) throw new MatrixError(400, "M_BAD_ALIAS", `${alias} does not point to this room`);
  }
}
