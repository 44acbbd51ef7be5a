import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { changePassword, deactivateAccount } from "../../services/accounts";
import { AuthDict, userInteractiveAuth } from "../../services/uia";

const PasswordBody = z.object({
  auth: AuthDict.optional(),
  new_password: z.string().min(1).max(1024),
  logout_devices: z.boolean().optional(),
});

const DeactivateBody = z.object({
  auth: AuthDict.optional(),
  erase: z.boolean().optional(),
  id_server: z.string().optional(),
});

export const account = new Hono<AppEnv>()
  /** POST /_matrix/client/v3/account/password */
  .post("/v3/account/password", requireAuth, async (c) => {
    const body = await parseBody(c, PasswordBody);
    const { userId, deviceId } = c.var.requester;
    await userInteractiveAuth(
      { kv: c.env.KV, db: c.env.DB, config: c.var.config, purpose: `password:${userId}`, flows: [["m.login.password"]], userId },
      body.auth,
    );
    await changePassword(c.env.DB, userId, deviceId, body.new_password, body.logout_devices ?? true);
    return c.json({});
  })
  /** POST /_matrix/client/v3/account/deactivate */
  .post("/v3/account/deactivate", requireAuth, async (c) => {
    const body = await parseBody(c, DeactivateBody);
    const { userId } = c.var.requester;
    await userInteractiveAuth(
      { kv: c.env.KV, db: c.env.DB, config: c.var.config, purpose: `deactivate:${userId}`, flows: [["m.login.password"]], userId },
      body.auth,
    );
    await deactivateAccount(c.env.DB, userId);
    return c.json({ id_server_unbind_result: "no-support" });
  })
  /** GET /_matrix/client/v3/account/3pid: this server binds no third-party ids. */
  .get("/v3/account/3pid", requireAuth, (c) => c.json({ threepids: [] }));
