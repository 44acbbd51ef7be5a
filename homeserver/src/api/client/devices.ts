import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { AuthDict, userInteractiveAuth } from "../../services/uia";
import { deviceOf, devicesOf, removeDevices, renameDevice } from "../../services/devices";
import type { Context } from "hono";
import { putAppserviceDevice } from "../../appservice/devices";

/** Deleting devices signs them out, so it needs the user's password again (UIA). */
async function authorizeDeletion(c: Context<AppEnv>, auth: AuthDict | undefined): Promise<void> {
  const { userId, appserviceId } = c.var.requester;
  // MSC4190: appservices manage their users' devices without user-interactive auth.
  if (appserviceId !== undefined) return;
  await userInteractiveAuth(
    { kv: c.env.KV, db: c.env.DB, config: c.var.config, purpose: `delete_devices:${userId}`, flows: [["m.login.password"]], userId },
    auth,
  );
}

export const devices = new Hono<AppEnv>()
  .use("/v3/devices", requireAuth)
  .use("/v3/devices/*", requireAuth)
  .use("/v3/delete_devices", requireAuth)
  /** GET /_matrix/client/v3/devices */
  .get("/v3/devices", async (c) => {
    return c.json({ devices: await devicesOf(c.env.DB, c.var.requester.userId) });
  })
  /** GET /_matrix/client/v3/devices/{deviceId} */
  .get("/v3/devices/:deviceId", async (c) => {
    return c.json(await deviceOf(c.env.DB, c.var.requester.userId, c.req.param("deviceId")));
  })
  /** PUT /_matrix/client/v3/devices/{deviceId} */
  .put("/v3/devices/:deviceId", async (c) => {
    const body = await parseBody(c, z.object({ display_name: z.string().max(255).optional() }), { allowEmpty: true });
    if (c.var.requester.appserviceId !== undefined) {
      // MSC4190: an appservice creates its users' devices here.
      await putAppserviceDevice(c.env.DB, c.var.requester.userId, c.req.param("deviceId"), body.display_name);
      return c.json({});
    }
    if (body.display_name === undefined) return c.json({});
    await renameDevice(c.env.DB, c.var.requester.userId, c.req.param("deviceId"), body.display_name);
    return c.json({});
  })
  /** DELETE /_matrix/client/v3/devices/{deviceId} */
  .delete("/v3/devices/:deviceId", async (c) => {
    const body = await parseBody(c, z.object({ auth: AuthDict.optional() }), { allowEmpty: true });
    const deviceId = c.req.param("deviceId");
    await deviceOf(c.env.DB, c.var.requester.userId, deviceId);
    await authorizeDeletion(c, body.auth);
    await removeDevices(c.env.DB, c.var.requester.userId, [deviceId]);
    return c.json({});
  })
  /** POST /_matrix/client/v3/delete_devices */
  .post("/v3/delete_devices", async (c) => {
    const body = await parseBody(c, z.object({ auth: AuthDict.optional(), devices: z.array(z.string().max(255)).max(1000) }));
    await authorizeDeletion(c, body.auth);
    await removeDevices(c.env.DB, c.var.requester.userId, body.devices);
    return c.json({});
  });
