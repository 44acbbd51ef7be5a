import { createMiddleware } from "hono/factory";
import { MatrixError } from "./errors";
import type { AppEnv } from "./types";
import { authenticate } from "../services/sessions";
import { authenticateAppservice } from "../appservice/auth";

/** Reads the access token from the Authorization header, or the deprecated `access_token` query parameter. */
export function accessTokenOf(req: { header(name: string): string | undefined; query(name: string): string | undefined }): string | null {
  const header = req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }
  return req.query("access_token") ?? null;
}

/**
 * Requires a valid access token and sets `c.var.requester`. Several API areas guard overlapping path patterns
 * (`/v3/rooms/*`), so a request already authenticated by one of them is not looked up again.
 */
export const requireAuth = createMiddleware<AppEnv>(async function requireAuth(c, next) {
  if (c.get("requester")) return next();
  const token = accessTokenOf(c.req);
  if (!token) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
  c.set("requester", (await authenticateAppservice(c, token)) ?? (await authenticate(c.env.DB, token)));
  await next();
});
