import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { PresenceState, getPresence, setPresence } from "../../services/presence";

const PresenceBody = z.object({ presence: PresenceState, status_msg: z.string().max(1024).nullable().optional() });

export const presence = new Hono<AppEnv>()
  /** GET /_matrix/client/v3/presence/{userId}/status */
  .get("/v3/presence/:userId/status", requireAuth, async (c) => c.json(await getPresence(c.env.DB, c.var.requester.userId, c.req.param("userId"))))
  /** PUT /_matrix/client/v3/presence/{userId}/status */
  .put("/v3/presence/:userId/status", requireAuth, async (c) => {
    const body = await parseBody(c, PresenceBody);
    await setPresence(c.env, c.executionCtx, c.var.requester.userId, c.req.param("userId"), body.presence, body.status_msg ?? null);
    return c.json({});
  });
