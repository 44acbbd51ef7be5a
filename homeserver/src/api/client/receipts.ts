import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { invalidParam } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { ReceiptType, sendReceipt, setReadMarkers } from "../../services/receipts";
import { roomIdOf } from "./rooms";
import { publishReceipt } from "../../appservice/ephemeral";
import { currentStreamPosition } from "../../storage/stream-positions";
import { wakeRoomMembers } from "../../sync/wake";

/** Wakes the members' waiting /sync (the receipt, and the reader's reset unread counts); a later position is harmless. */
async function wakeAfterReceipt(env: Env, roomId: string): Promise<void> {
  await wakeRoomMembers(env, roomId, await currentStreamPosition(env.DB));
}

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
    if (receiptType.data !== "m.fully_read") {
      publishReceipt(c.executionCtx, c.env, { roomId, userId: c.var.requester.userId, receiptType: receiptType.data, eventId: c.req.param("eventId"), threadId: body.thread_id });
    }
    c.executionCtx.waitUntil(wakeAfterReceipt(c.env, roomId));
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
    c.executionCtx.waitUntil(wakeAfterReceipt(c.env, roomId));
    return c.json({});
  });
