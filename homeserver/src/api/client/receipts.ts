import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { invalidParam } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { ReceiptType, sendReceipt, setReadMarkers } from "../../services/receipts";
import { roomIdOf } from "./rooms";

const EventId = z.string().regex(/^\$./, "must be an event id");

export const receipts = new Hono<AppEnv>()
  .use("/v3/rooms/:roomId/receipt/*", requireAuth)
  .use("/v3/rooms/:roomId/read_markers", requireAuth)
  /** POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} */
  .post("/v3/rooms/:roomId/receipt/:receiptType/:eventId", async (c) => {
    const roomId = roomIdOf(c);
    const receiptType = ReceiptType.safeParse(c.req.param("receiptType"));
    if (!receiptType.success) throw invalidParam("Receipt type must be m.read, m.read.private or m.fully_read");
    // The body is required by the spec, but older clients send none; `thread_id` is checked by the service (M_INVALID_PARAM).
    const body = await parseBody(c, z.looseObject({ thread_id: z.unknown().optional() }), { allowEmpty: true });
    await sendReceipt(c.env.DB, c.var.requester.userId, roomId, receiptType.data, c.req.param("eventId"), body.thread_id);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/read_markers */
  .post("/v3/rooms/:roomId/read_markers", async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(
      c,
      z.object({ "m.fully_read": EventId.optional(), "m.read": EventId.optional(), "m.read.private": EventId.optional() }),
    );
    await setReadMarkers(c.env.DB, c.var.requester.userId, roomId, body);
    return c.json({});
  });
