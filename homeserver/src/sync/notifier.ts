import { DurableObject } from "cloudflare:workers";

/**
 * The streams a sync token covers: room events (`stream_ordering`) and the shared counter of account data, receipts
 * and typing (migrations/0003). A waiter is woken by news on either.
 */
export type SyncStream = "events" | "shared";

interface Waiter {
  since: Record<SyncStream, number>;
  wake: () => void;
}

/**
 * One per user: where that user's open /sync requests wait for something to happen. Writers (the RoomObject,
 * account data, receipts, typing) call `notify` after they commit; a waiting /sync returns and reads D1 again.
 *
 * Memory only, on purpose: D1 is the truth and every /sync checks it before waiting, so an evicted notifier only
 * forgets positions that D1 already has. No wake-up is lost because the caller waits with the positions it read:
 * a notification that arrives between that read and `wait` leaves `latest` ahead of them, and `wait` returns at once.
 */
export class SyncNotifier extends DurableObject<Env> {
  private latest: Record<SyncStream, number> = { events: 0, shared: 0 };
  private waiters = new Set<Waiter>();

  /**
   * Resolves with the latest known event position once some stream moves past what the caller has seen (`since`
   * for events, `sharedSince` for the shared stream), at once if it already has, or after `timeoutMs`.
   */
  wait(since: number, timeoutMs: number, sharedSince: number = Number.MAX_SAFE_INTEGER): Promise<number> {
    const seen = { events: since, shared: sharedSince };
    if (this.isAhead(seen)) return Promise.resolve(this.latest.events);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        since: seen,
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(this.latest.events);
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, timeoutMs));
      this.waiters.add(waiter);
    });
  }

  /** Something for this user was committed at `position` of `stream`: wakes the waiters that have not seen it. */
  notify(position: number, stream: SyncStream = "events"): void {
    if (position > this.latest[stream]) this.latest[stream] = position;
    for (const waiter of [...this.waiters]) {
      if (position > waiter.since[stream]) waiter.wake();
    }
  }

  private isAhead(seen: Record<SyncStream, number>): boolean {
    return this.latest.events > seen.events || this.latest.shared > seen.shared;
  }
}

/** The notifier of one user. */
export function syncNotifier(env: Env, userId: string): DurableObjectStub<SyncNotifier> {
  return env.SYNC_NOTIFIERS.get(env.SYNC_NOTIFIERS.idFromName(userId));
}

/**
 * Wakes the /sync requests of `userIds` for a commit at `position`. Failures are logged, not thrown: the writer has
 * already committed, and a missed wake-up only delays delivery to the client's next poll.
 */
export async function notifyUsers(env: Env, userIds: Iterable<string>, position: number, stream: SyncStream = "events"): Promise<void> {
  const results = await Promise.allSettled([...new Set(userIds)].map((userId) => syncNotifier(env, userId).notify(position, stream)));
  for (const result of results) {
    if (result.status === "rejected") console.error("sync notify failed", result.reason);
  }
}
