import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseQuery } from "../../http/validate";
import { parseFilterParam } from "../../services/event-filter";
import { eventContext, roomMessages } from "../../services/messages";
import { parsePositionToken } from "../../services/pagination";
import { roomIdOf } from "./rooms";

const MAX_LIMIT = 1000;
const Limit = z.coerce.number().int().min(0).max(MAX_LIMIT);

export const messages = new Hono<AppEnv>()
  .use("/v3/rooms/*", requireAuth)
  /** GET /_matrix/client/v3/rooms/{roomId}/messages */
  .get("/v3/rooms/:roomId/messages", async (c) => {
    const roomId = roomIdOf(c);
    const q = parseQuery(
      c,
      z.object({ from: z.string().optional(), to: z.string().optional(), dir: z.enum(["b", "f"]), limit: Limit.optional(), filter: z.string().optional() }),
    );
    const filter = parseFilterParam(q.filter);
    const limit = Math.min(q.limit ?? filter.limit ?? 10, MAX_LIMIT);
    const result = await roomMessages(c.env.DB, c.var.requester, roomId, {
      from: q.from === undefined ? null : parsePositionToken(q.from),
      to: q.to === undefined ? null : parsePositionToken(q.to, "to"),
      dir: q.dir,
      limit,
      filter,
    });
    return c.json(result);
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
  .get("/v3/rooms/:roomId/context/:eventId", async (c) => {
    const roomId = roomIdOf(c);
    const q = parseQuery(c, z.object({ limit: Limit.optional(), filter: z.string().optional() }));
    const filter = parseFilterParam(q.filter);
    return c.json(await eventContext(c.env.DB, c.var.requester, roomId, c.req.param("eventId"), q.limit ?? 10, filter));
  });
