import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { notFound } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { AuthDict, userInteractiveAuth } from "../../services/uia";
import { type DeviceRow, deleteDevices, getDevice, listDevices, setDeviceDisplayName } from "../../storage/devices";
import type { Context } from "hono";

const toClientDevice = (d: DeviceRow) => ({
  device_id: d.device_id,
  display_name: d.display_name ?? undefined,
  last_seen_ip: d.last_seen_ip ?? undefined,
  last_seen_ts: d.last_seen_ts ?? undefined,
});

/** Deleting devices signs them out, so it needs the user's password again (UIA). */
async function authorizeDeletion(c: Context<AppEnv>, auth: AuthDict | undefined): Promise<void> {
  const { userId } = c.var.requester;
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
    const rows = await listDevices(c.env.DB, c.var.requester.userId);
    return c.json({ devices: rows.map(toClientDevice) });
  })
  /** GET /_matrix/client/v3/devices/{deviceId} */
  .get("/v3/devices/:deviceId", async (c) => {
    const row = await getDevice(c.env.DB, c.var.requester.userId, c.req.param("deviceId"));
    if (!row) throw notFound("Unknown device");
    return c.json(toClientDevice(row));
  })
  /** PUT /_matrix/client/v3/devices/{deviceId} */
  .put("/v3/devices/:deviceId", async (c) => {
    const body = await parseBody(c, z.object({ display_name: z.string().max(255).optional() }), { allowEmpty: true });
    if (body.display_name === undefined) return c.json({});
    const updated = await setDeviceDisplayName(c.env.DB, c.var.requester.userId, c.req.param("deviceId"), body.display_name);
    if (!updated) throw notFound("Unknown device");
    return c.json({});
  })
  /** DELETE /_matrix/client/v3/devices/{deviceId} */
  .delete("/v3/devices/:deviceId", async (c) => {
    const body = await parseBody(c, z.object({ auth: AuthDict.optional() }), { allowEmpty: true });
    const deviceId = c.req.param("deviceId");
    if (!(await getDevice(c.env.DB, c.var.requester.userId, deviceId))) throw notFound("Unknown device");
    await authorizeDeletion(c, body.auth);
    await deleteDevices(c.env.DB, c.var.requester.userId, [deviceId]);
    return c.json({});
  })
  /** POST /_matrix/client/v3/delete_devices */
  .post("/v3/delete_devices", async (c) => {
    const body = await parseBody(c, z.object({ auth: AuthDict.optional(), devices: z.array(z.string().max(255)).max(1000) }));
    await authorizeDeletion(c, body.auth);
    await deleteDevices(c.env.DB, c.var.requester.userId, body.devices);
    return c.json({});
  });
