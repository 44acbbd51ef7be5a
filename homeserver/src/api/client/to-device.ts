import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { sendToDevice } from "../../e2ee/to-device";

const SendToDeviceBody = z.object({
  messages: z.record(z.string().max(255), z.record(z.string().max(255), z.record(z.string(), z.unknown()))),
});

export const toDevice = new Hono<AppEnv>()
  .use("/v3/sendToDevice/*", requireAuth)
  /** PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId} */
  .put("/v3/sendToDevice/:eventType/:txnId", async (c) => {
    const body = await parseBody(c, SendToDeviceBody);
    const { eventType, txnId } = c.req.param();
    await sendToDevice(c.env, c.var.config.SERVER_NAME, c.var.requester, eventType, txnId, body.messages);
    return c.json({});
  });
