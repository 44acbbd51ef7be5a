import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseQuery, readJson } from "../../http/validate";
import { listNotifications } from "../../services/notifications";
import { listPushers, setPusher } from "../../services/pushers";

const NotificationsQuery = z.object({
  from: z.string().optional(),
  limit: z.coerce.number().int().min(1).optional(),
  only: z.string().optional(),
});

/** Pushers and the notification list (Client-Server API, "Push Notifications"). */
export const pushers = new Hono<AppEnv>()
  /** GET /_matrix/client/v3/pushers */
  .get("/v3/pushers", requireAuth, async (c) => c.json({ pushers: await listPushers(c.env.DB, c.var.requester.userId) }))
  /** POST /_matrix/client/v3/pushers/set */
  .post("/v3/pushers/set", requireAuth, async (c) => {
    await setPusher(c.env.DB, c.var.requester.userId, c.var.requester.deviceId, await readJson(c));
    return c.json({});
  })
  /** GET /_matrix/client/v3/notifications */
  .get("/v3/notifications", requireAuth, async (c) => c.json(await listNotifications(c.env.DB, c.var.requester, parseQuery(c, NotificationsQuery))));
