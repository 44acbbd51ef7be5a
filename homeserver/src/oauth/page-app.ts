import { type Context, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { MatrixError } from "../http/errors";
import { clientIp, rateLimit } from "../http/ratelimit";
import type { AppEnv } from "../http/types";
import { checkPasswordLogin } from "../services/accounts";
import { parseUserIdentifier } from "../services/identifiers";
import { OAuthError } from "./errors";
import { errorPage } from "./pages";

/** Headers for every page: no framing (clickjacking on the consent page), no caching, no scripts, no referrer. */
const pageHeaders = createMiddleware<AppEnv>(async function pageHeaders(c, next) {
  await next();
  c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
  c.header("X-Frame-Options", "DENY");
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Content-Type-Options", "nosniff");
});

/**
 * A Hono app for the HTML pages under `base`: errors become a page for the person, never JSON and never a redirect.
 * The headers are scoped to `base`: sub-apps are mounted at "/", where a "*" middleware would reach every API route.
 */
export function pageApp(base: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(base, pageHeaders);
  app.use(`${base}/*`, pageHeaders);
  app.onError((err, c) => {
    if (err instanceof OAuthError) return c.html(errorPage(err.message), err.status);
    if (err instanceof MatrixError) return c.html(errorPage(err.message), err.status);
    console.error(`Unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
    return c.html(errorPage("The server could not complete this request."), 500);
  });
  return app;
}

/**
 * Checks a username and password typed into one of our pages, counted by the same rate limiter as
 * `POST /v3/login` (per IP and per account). Returns the user id, or the message to show.
 */
export async function checkTypedPassword(
  c: Context<AppEnv>,
  username: string,
  password: string,
): Promise<{ userId: string } | { error: string; status: 401 | 429 }> {
  if (username.length > 255 || password.length > 1024) return { error: "Wrong username or password.", status: 401 };
  const userId = parseUserIdentifier({ type: "m.id.user", user: username.trim() }, c.var.config.SERVER_NAME);
  try {
    await rateLimit(c, "login", [clientIp(c), userId]);
    return { userId: await checkPasswordLogin(c.env.DB, userId, password) };
  } catch (err) {
    if (!(err instanceof MatrixError)) throw err;
    if (err.status === 429) {
      const seconds = Math.ceil(Number(err.extra["retry_after_ms"] ?? 60_000) / 1000);
      return { error: `Too many attempts. Try again in ${seconds} seconds.`, status: 429 };
    }
    return { error: "Wrong username or password.", status: 401 };
  }
}
