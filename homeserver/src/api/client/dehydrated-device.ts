import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { DeviceKeys, KeyMap } from "../../e2ee/schemas";
import { dehydratedDeviceEvents, dehydratedDeviceOf, deleteDehydratedDevice, replaceDehydratedDevice } from "../../e2ee/dehydrated-devices";

/** MSC3814 (unstable prefix): dehydrated devices, with both the first (POST) and the current (GET) events endpoint. */
const PREFIX = "/unstable/org.matrix.msc3814.v1/dehydrated_device";

const PutBody = z.object({
  device_id: z.string().min(1).max(255),
  device_data: z.record(z.string(), z.unknown()),
  initial_device_display_name: z.string().max(255).optional(),
  device_keys: DeviceKeys.optional(),
  one_time_keys: KeyMap.optional(),
  fallback_keys: KeyMap.optional(),
});

export const dehydratedDevice = new Hono<AppEnv>()
  .use(PREFIX, requireAuth)
  .use(`${PREFIX}/*`, requireAuth)
  /** PUT /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device */
  .put(PREFIX, async (c) => c.json(await replaceDehydratedDevice(c.env, c.var.requester.userId, await parseBody(c, PutBody))))
  /** GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device */
  .get(PREFIX, async (c) => c.json(await dehydratedDeviceOf(c.env.DB, c.var.requester.userId)))
  /** DELETE /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device */
  .delete(PREFIX, async (c) => c.json(await deleteDehydratedDevice(c.env, c.var.requester.userId)))
  /** POST /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/{deviceId}/events */
  .post(`${PREFIX}/:deviceId/events`, async (c) => {
    const body = await parseBody(c, z.object({ next_batch: z.string().max(32).optional() }), { allowEmpty: true });
    return c.json(await dehydratedDeviceEvents(c.env.DB, c.var.requester.userId, c.req.param("deviceId"), body.next_batch));
  })
  /** GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/{deviceId}/events */
  .get(`${PREFIX}/:deviceId/events`, async (c) => {
    const { from } = parseQuery(c, z.object({ from: z.string().max(32).optional() }));
    const page = await dehydratedDeviceEvents(c.env.DB, c.var.requester.userId, c.req.param("deviceId"), from);
    return c.json(page.events.length > 0 ? page : { events: [] });
  });
