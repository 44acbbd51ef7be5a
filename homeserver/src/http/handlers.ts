import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { MatrixError, unrecognized } from "./errors";
import type { AppEnv } from "./types";

/** app.onError: Matrix errors as `{errcode, error}`; anything else is logged and answered M_UNKNOWN 500. */
export function onError(err: Error, c: Context<AppEnv>): Response {
  if (err instanceof MatrixError) return c.json(err.toJSON(), err.status);
  if (err instanceof ConfigError) return c.json({ errcode: "M_UNKNOWN", error: err.message }, 500);
  if (err instanceof HTTPException) {
    return c.json({ errcode: "M_UNKNOWN", error: err.message || "Request failed" }, err.status);
  }
  console.error(`Unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
  return c.json({ errcode: "M_UNKNOWN", error: "Internal server error" }, 500);
}

/**
 * app.notFound: 405 when the path exists for another method, 404 otherwise, both M_UNRECOGNIZED as the spec says.
 * The route table is compiled to regexes once per app.
 */
export function notFoundHandler(app: Hono<AppEnv>) {
  let patterns: RegExp[] | undefined;
  return function notFound(c: Context<AppEnv>): Response {
    patterns ??= app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\/:[^/]+/g, "/[^/]+").replace(/\*/g, ".*")}$`));
    const path = new URL(c.req.url).pathname;
    const err = patterns.some((p) => p.test(path))
      ? unrecognized(405, "Method not allowed for this endpoint")
      : unrecognized(404, "Unrecognized request");
    return c.json(err.toJSON(), err.status);
  };
}
