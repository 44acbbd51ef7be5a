import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { MatrixError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { resolveAlias } from "../../services/aliases";
import { actOnMember, forget, joinRoom, knockRoom, leaveRoom } from "../../services/membership";
import { roomIdOf } from "./rooms";

const Reason = z.object({ reason: z.string().max(1024).optional() });
const Target = Reason.extend({ user_id: z.string().max(255) });

/** Room id or alias (`!room:server` / `#alias:server`), as join and knock accept. */
async function resolveRoom(db: D1Database, idOrAlias: string): Promise<string> {
  if (idOrAlias.startsWith("!")) return idOrAlias;
  if (idOrAlias.startsWith("#")) return resolveAlias(db, idOrAlias);
  throw new MatrixError(400, "M_INVALID_PARAM", "Expected a room id or alias");
}

export const membership = new Hono<AppEnv>()
  .use("/v3/rooms/*", requireAuth)
  .use("/v3/join/*", requireAuth)
  .use("/v3/knock/*", requireAuth)
  /** POST /_matrix/client/v3/join/{roomIdOrAlias} */
  .post("/v3/join/:roomIdOrAlias", async (c) => {
    const body = await parseBody(c, Reason, { allowEmpty: true });
    const roomId = await resolveRoom(c.env.DB, c.req.param("roomIdOrAlias"));
    await joinRoom(c.env, c.var.requester, roomId, body.reason);
    return c.json({ room_id: roomId });
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/join */
  .post("/v3/rooms/:roomId/join", async (c) => {
    const body = await parseBody(c, Reason, { allowEmpty: true });
    const roomId = roomIdOf(c);
    await joinRoom(c.env, c.var.requester, roomId, body.reason);
    return c.json({ room_id: roomId });
  })
  /** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
  .post("/v3/knock/:roomIdOrAlias", async (c) => {
    const body = await parseBody(c, Reason, { allowEmpty: true });
    const roomId = await resolveRoom(c.env.DB, c.req.param("roomIdOrAlias"));
    await knockRoom(c.env, c.var.requester, roomId, body.reason);
    return c.json({ room_id: roomId });
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/leave */
  .post("/v3/rooms/:roomId/leave", async (c) => {
    const body = await parseBody(c, Reason, { allowEmpty: true });
    await leaveRoom(c.env, c.var.requester, roomIdOf(c), body.reason);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/forget */
  .post("/v3/rooms/:roomId/forget", async (c) => {
    await forget(c.env, c.var.requester, roomIdOf(c));
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/invite */
  .post("/v3/rooms/:roomId/invite", async (c) => {
    const body = await parseBody(c, Target.extend({ is_direct: z.boolean().optional() }));
    await actOnMember(c.env, c.var.requester, roomIdOf(c), "invite", body.user_id, body);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/kick */
  .post("/v3/rooms/:roomId/kick", async (c) => {
    const body = await parseBody(c, Target);
    await actOnMember(c.env, c.var.requester, roomIdOf(c), "kick", body.user_id, body);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/ban */
  .post("/v3/rooms/:roomId/ban", async (c) => {
    const body = await parseBody(c, Target);
    await actOnMember(c.env, c.var.requester, roomIdOf(c), "ban", body.user_id, body);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/unban */
  .post("/v3/rooms/:roomId/unban", async (c) => {
    const body = await parseBody(c, Target);
    await actOnMember(c.env, c.var.requester, roomIdOf(c), "unban", body.user_id, body);
    return c.json({});
  });
