import { Hono } from "hono";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { presenceFromSync } from "../../services/presence";
import { SlidingSyncBody, SlidingSyncQuery, checkLimits } from "../../sync/sliding/request";
import { slidingSync } from "../../sync/sliding/sliding-sync";

/** Long-polls are held at most this long, below the proxies' and clients' usual idle limits. */
const MAX_TIMEOUT_MS = 30_000;

export const slidingSyncApi = new Hono<AppEnv>()
  /** POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (MSC4186, simplified sliding sync) */
  .post("/unstable/org.matrix.simplified_msc3575/sync", requireAuth, async (c) => {
    const query = parseQuery(c, SlidingSyncQuery);
    const body = await parseBody(c, SlidingSyncBody, { allowEmpty: true });
    checkLimits(body);
    const timeoutMs = Math.min(query.timeout ?? body.timeout ?? 0, MAX_TIMEOUT_MS);
    // As /v3/sync: omitted means online; done first so the client's own change is in this response.
    await presenceFromSync(c.env, c.executionCtx, c.var.requester.userId, query.set_presence ?? "online");
    return c.json(await slidingSync(c.env, c.var.requester, { body, pos: query.pos ?? body.pos, timeoutMs }));
  });
