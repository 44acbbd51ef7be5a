import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { roomObject, unwrap } from "../../services/room-client";
import { txnScope } from "../../services/txn-scope";
import { roomIdOf } from "./rooms";

export const redaction = new Hono<AppEnv>()
  .use("/v3/rooms/*", requireAuth)
  /** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
  .put("/v3/rooms/:roomId/redact/:eventId/:txnId", async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, z.object({ reason: z.string().max(1024).optional() }), { allowEmpty: true });
    const { userId, deviceId } = c.var.requester;
    const content: Record<string, unknown> = body.reason === undefined ? {} : { reason: body.reason };
    const txn = { userId, deviceId, scope: txnScope("redact", roomId), txnId: c.req.param("txnId") };
    const template = { type: "m.room.redaction", sender: userId, content, redacts: c.req.param("eventId") };
    const sent = unwrap(await roomObject(c.env, roomId).send(roomId, template, { txn }));
    return c.json({ event_id: sent.event_id });
  });
