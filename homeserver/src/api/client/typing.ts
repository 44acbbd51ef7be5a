import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { setTyping } from "../../services/typing";
import { roomIdOf } from "./rooms";
import { publishTyping } from "../../appservice/ephemeral";

export const typing = new Hono<AppEnv>()
  .use("/v3/rooms/:roomId/typing/*", requireAuth)
  /** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} */
  .put("/v3/rooms/:roomId/typing/:userId", async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, z.object({ typing: z.boolean(), timeout: z.number().int().nonnegative().optional() }));
    await setTyping(c.env.DB, c.var.requester.userId, roomId, c.req.param("userId"), body.typing, body.timeout);
    publishTyping(c.executionCtx, c.env, roomId);
    return c.json({});
  });
