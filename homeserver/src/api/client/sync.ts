import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseQuery } from "../../http/validate";
import { presenceFromSync } from "../../services/presence";
import { resolveSyncFilter } from "../../sync/filter";
import { sync } from "../../sync/sync";
import { parseSyncToken } from "../../sync/token";

/** Long-polls are held at most this long, below the proxies' and clients' usual idle limits. */
const MAX_TIMEOUT_MS = 30_000;

const SyncQuery = z.object({
  since: z.string().optional(),
  timeout: z.coerce.number().int().min(0).optional(),
  full_state: z.enum(["true", "false"]).optional(),
  use_state_after: z.enum(["true", "false"]).optional(),
  filter: z.string().optional(),
  set_presence: z.enum(["offline", "online", "unavailable"]).optional(),
});

export const syncApi = new Hono<AppEnv>()
  /** GET /_matrix/client/v3/sync */
  .get("/v3/sync", requireAuth, async (c) => {
    const q = parseQuery(c, SyncQuery);
    const since = q.since === undefined || q.since === "" ? null : parseSyncToken(q.since);
    const filter = await resolveSyncFilter(c.env.DB, c.var.requester.userId, q.filter);
    const fullState = q.full_state === "true";
    const useStateAfter = q.use_state_after === "true";
    const timeoutMs = Math.min(q.timeout ?? 0, MAX_TIMEOUT_MS);
    // Omitted means online (spec); done before reading so the client's own presence change is in this response.
    await presenceFromSync(c.env, c.executionCtx, c.var.requester.userId, q.set_presence ?? "online");
    return c.json(await sync(c.env, c.var.requester, { since, timeoutMs, fullState, useStateAfter, filter }));
  });
