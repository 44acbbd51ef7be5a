import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { MatrixError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery, readJson } from "../../http/validate";
import { CreateRoomBody, createRoom } from "../../services/create-room";
import { roomObject, unwrap } from "../../services/room-client";
import {
  checkCanonicalAlias,
  joinedMembers,
  joinedRooms,
  roomEvent,
  roomMembers,
  roomState,
  roomStateEvent,
} from "../../services/room-state";
import { checkStateContent } from "../../services/state-content";
import { txnScope } from "../../services/txn-scope";
import { upgradeRoom } from "../../services/upgrade-room";
import { appserviceTs } from "../../appservice/policy";

const RoomIdParam = z.string().regex(/^![^\s]+$/, "must be a room id");

/** The room id path parameter, validated so storage never sees garbage. */
export function roomIdOf(c: Context<AppEnv>): string {
  const parsed = RoomIdParam.safeParse(c.req.param("roomId"));
  if (!parsed.success) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid room id");
  return parsed.data;
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
      await roomObject(c.env, roomId).send(roomId, { type: c.req.param("eventType"), sender: userId, content }, { txn, ts: appserviceTs(c) }),
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
    const sent = unwrap(await roomObject(c.env, roomId).send(roomId, { type, state_key: stateKey, sender, content }, { ts: appserviceTs(c) }));
    return c.json({ event_id: sent.event_id });
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/state */
  .get("/v3/rooms/:roomId/state", async (c) => {
    const roomId = roomIdOf(c);
    return c.json(await roomState(c.env.DB, c.var.requester, roomId));
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  .get("/v3/rooms/:roomId/state/:eventType/:stateKey?", async (c) => {
    const roomId = roomIdOf(c);
    const type = c.req.param("eventType");
    const stateKey = c.req.param("stateKey") ?? "";
    const format = c.req.query("format") === "event" ? "event" : "content";
    return c.json(await roomStateEvent(c.env.DB, c.var.requester, roomId, type, stateKey, format));
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
  .get("/v3/rooms/:roomId/event/:eventId", async (c) => {
    return c.json(await roomEvent(c.env.DB, c.var.requester, roomIdOf(c), c.req.param("eventId")));
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
  .post("/v3/rooms/:roomId/upgrade", async (c) => {
    const { new_version } = await parseBody(c, z.object({ new_version: z.string().min(1).max(32) }));
    const replacement = await upgradeRoom(c.env, c.var.config, c.var.requester, roomIdOf(c), new_version);
    return c.json({ replacement_room: replacement });
  })
  /** GET /_matrix/client/v3/joined_rooms */
  .get("/v3/joined_rooms", async (c) => c.json({ joined_rooms: await joinedRooms(c.env.DB, c.var.requester.userId) }))
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
    return c.json({ chunk: await roomMembers(c.env.DB, c.var.requester, roomId, query) });
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
  .get("/v3/rooms/:roomId/joined_members", async (c) => {
    const roomId = roomIdOf(c);
    const joined = await joinedMembers(c.env.DB, c.var.requester.userId, roomId);
    return c.json({ joined });
  });
