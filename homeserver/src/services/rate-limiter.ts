import { DurableObject } from "cloudflare:workers";

/**
 * A sliding-window counter for one key (one action by one IP or one account). Memory-only on purpose: losing
 * the window when the object is evicted only forgives a few attempts, and it keeps every hit free of storage I/O.
 */
export class RateLimiter extends DurableObject<Env> {
  private hits: number[] = [];

  /** Records a hit; returns 0 when allowed, or how many ms until the next hit would be allowed. */
  hit(limit: number, windowMs: number): number {
    const now = Date.now();
    this.hits = this.hits.filter((t) => t > now - windowMs);
    if (this.hits.length >= limit) return this.hits[0]! + windowMs - now;
    this.hits.push(now);
    return 0;
  }
}
