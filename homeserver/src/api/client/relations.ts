import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseQuery } from "../../http/validate";
import { parsePositionToken } from "../../services/pagination";
import { relations as relationsOf, threadRoots } from "../../services/relations";
import { roomIdOf } from "./rooms";

const DEFAULT_LIMIT = 20;
/** Larger limits are lowered to this rather than refused: the spec lets servers cap them. */
const MAX_LIMIT = 100;
const Limit = z.coerce.number().int().min(1).transform((n) => Math.min(n, MAX_LIMIT));
const Flag = z.enum(["true", "false"]).transform((v) => v === "true");

const RelationsParams = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  limit: Limit.optional(),
  dir: z.enum(["b", "f"]).default("b"),
  recurse: Flag.optional(),
});

const ThreadsParams = z.object({
  include: z.enum(["all", "participated"]).default("all"),
  from: z.string().optional(),
  limit: Limit.optional(),
});

export const relations = new Hono<AppEnv>()
  .use("/v1/rooms/*", requireAuth)
  /**
   * GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}
   * GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}
   * GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}
   */
  .get("/v1/rooms/:roomId/relations/:eventId/:relType?/:eventType?", async (c) => {
    const roomId = roomIdOf(c);
    const q = parseQuery(c, RelationsParams);
    const result = await relationsOf(c.env.DB, c.var.requester, roomId, c.req.param("eventId"), {
      relType: c.req.param("relType") ?? null,
      eventType: c.req.param("eventType") ?? null,
      from: q.from === undefined ? null : parsePositionToken(q.from),
      to: q.to === undefined ? null : parsePositionToken(q.to, "to"),
      dir: q.dir,
      limit: q.limit ?? DEFAULT_LIMIT,
      recurse: q.recurse,
    });
    return c.json(result);
  })
  /** GET /_matrix/client/v1/rooms/{roomId}/threads */
  .get("/v1/rooms/:roomId/threads", async (c) => {
    const roomId = roomIdOf(c);
    const q = parseQuery(c, ThreadsParams);
    const result = await threadRoots(c.env.DB, c.var.requester, roomId, {
      include: q.include,
      from: q.from === undefined ? null : parsePositionToken(q.from),
      limit: q.limit ?? DEFAULT_LIMIT,
    });
    return c.json(result);
  });
