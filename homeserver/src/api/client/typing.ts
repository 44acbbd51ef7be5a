import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { setTyping } from "../../services/typing";
import { roomIdOf } from "./rooms";
import { publishTyping } from "../../appservice/ephemeral";
import { wakeRoomMembers } from "../../sync/wake";

export const typing = new Hono<AppEnv>()
  .use("/v3/rooms/:roomId/typing/*", requireAuth)
  /** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} */
  .put("/v3/rooms/:roomId/typing/:userId", async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, z.object({ typing: z.boolean(), timeout: z.number().int().nonnegative().optional() }));
    const position = await setTyping(c.env.DB, c.var.requester.userId, roomId, c.req.param("userId"), body.typing, body.timeout);
    publishTyping(c.executionCtx, c.env, roomId);
    // A change (not a mere refresh) wakes the members' waiting /sync so they see it now, not at their timeout.
    if (position !== null) c.executionCtx.waitUntil(wakeRoomMembers(c.env, roomId, position));
    return c.json({});
  });
