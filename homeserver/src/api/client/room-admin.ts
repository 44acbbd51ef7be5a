import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { reportEvent, reportRoom } from "../../services/reports";
import { eventNearTimestamp } from "../../services/timestamp-to-event";
import { roomIdOf } from "./rooms";

const Reason = z.string().max(10_000);

const EventReportBody = z.object({
  reason: Reason.optional(),
  // Removed in spec v1.18; still accepted from older clients.
  score: z.number().int().min(-100).max(0).optional(),
});

const TimestampQuery = z.object({
  ts: z
    .string()
    .regex(/^\d{1,15}$/, "must be a timestamp in milliseconds")
    .transform(Number),
  // A string first, so that a missing `dir` is M_MISSING_PARAM: check() only takes invalid_type issues for missing.
  dir: z.string().pipe(z.enum(["f", "b"])),
});

/** Reporting content and jumping to a date: room endpoints that read the room without changing it. */
export const roomAdmin = new Hono<AppEnv>()
  /** POST /_matrix/client/v3/rooms/{roomId}/report/{eventId} */
  .post("/v3/rooms/:roomId/report/:eventId", requireAuth, async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, EventReportBody);
    await reportEvent(c.env.DB, c.var.requester, roomId, c.req.param("eventId"), body);
    return c.json({});
  })
  /** POST /_matrix/client/v3/rooms/{roomId}/report */
  .post("/v3/rooms/:roomId/report", requireAuth, async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, z.object({ reason: Reason }));
    await reportRoom(c.env.DB, c.var.requester, roomId, body.reason);
    return c.json({});
  })
  /** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event */
  .get("/v1/rooms/:roomId/timestamp_to_event", requireAuth, async (c) => {
    const roomId = roomIdOf(c);
    const { ts, dir } = parseQuery(c, TimestampQuery);
    return c.json(await eventNearTimestamp(c.env.DB, c.var.requester.userId, roomId, ts, dir));
  });
