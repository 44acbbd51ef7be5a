import type { Context } from "hono";
import { limitExceeded } from "./errors";
import type { AppEnv } from "./types";

export type RateLimitAction = "login" | "register";

/** The client's address as Cloudflare reports it (absent under `app.request()` in tests). */
export function clientIp(c: Context<AppEnv>): string | null {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? null;
}

/**
 * Counts one attempt of `action` against each key (for example the client's IP and the target account) and
 * answers 429 M_LIMIT_EXCEEDED when any key is over its per-minute budget. Each key has its own RateLimiter
 * Durable Object, so counting is exact even across Worker instances.
 */
export async function rateLimit(c: Context<AppEnv>, action: RateLimitAction, keys: (string | null)[]): Promise<void> {
  const config = c.var.config;
  if (!config.RATE_LIMIT_ENABLED) return;
  const perMinute = action === "login" ? config.RATE_LIMIT_LOGIN_PER_MINUTE : config.RATE_LIMIT_REGISTER_PER_MINUTE;
  const results = await Promise.all(
    keys
      .filter((k): k is string => k !== null)
      .map((key) => {
        const stub = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(`${action}:${key}`));
        return stub.hit(perMinute, 60_000);
      }),
  );
  const retryAfterMs = Math.max(0, ...results);
  if (retryAfterMs > 0) throw limitExceeded(retryAfterMs);
}
