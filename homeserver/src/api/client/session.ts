import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { refreshSession } from "../../services/sessions";
import { removeDevices } from "../../services/devices";

export const session = new Hono<AppEnv>()
  /** POST /_matrix/client/v3/refresh */
  .post("/v3/refresh", async (c) => {
    const { refresh_token } = await parseBody(c, z.object({ refresh_token: z.string().min(1).max(512) }));
    return c.json(await refreshSession(c.env.DB, c.var.config, refresh_token));
  })
  /** GET /_matrix/client/v3/account/whoami */
  .get("/v3/account/whoami", requireAuth, (c) => {
    const { userId, deviceId } = c.var.requester;
    // An appservice acting without `device_id` has no device (Application Service API, "Identity assertion").
    return c.json({ user_id: userId, ...(deviceId === "" ? {} : { device_id: deviceId }), is_guest: false });
  })
  /** POST /_matrix/client/v3/logout: the token's device goes with it. */
  .post("/v3/logout", requireAuth, async (c) => {
    const { userId, deviceId } = c.var.requester;
    await removeDevices(c.env.DB, userId, [deviceId]);
    return c.json({});
  })
  /** POST /_matrix/client/v3/logout/all */
  .post("/v3/logout/all", requireAuth, async (c) => {
    await removeDevices(c.env.DB, c.var.requester.userId, "all");
    return c.json({});
  });
