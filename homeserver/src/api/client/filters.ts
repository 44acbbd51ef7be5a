import { Hono } from "hono";
import type { Context } from "hono";
import { requireAuth } from "../../http/auth";
import { forbidden } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { readJson } from "../../http/validate";
import { createFilter, loadFilter } from "../../sync/filter";

/** The `{userId}` path parameter, which must be the requester: filters are per user. */
function ownUserIdOf(c: Context<AppEnv>): string {
  const userId = c.req.param("userId") ?? "";
  if (userId !== c.var.requester.userId) throw forbidden("Cannot access filters of other users");
  return userId;
}

export const filters = new Hono<AppEnv>()
  /** POST /_matrix/client/v3/user/{userId}/filter */
  .post("/v3/user/:userId/filter", requireAuth, async (c) => {
    const userId = ownUserIdOf(c);
    return c.json({ filter_id: await createFilter(c.env.DB, userId, await readJson(c)) });
  })
  /** GET /_matrix/client/v3/user/{userId}/filter/{filterId} */
  .get("/v3/user/:userId/filter/:filterId", requireAuth, async (c) => {
    const userId = ownUserIdOf(c);
    return c.json(await loadFilter(c.env.DB, userId, c.req.param("filterId")));
  });
