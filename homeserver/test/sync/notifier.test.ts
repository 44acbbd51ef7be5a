import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { syncNotifier } from "../../src/sync/notifier";
import { uniqueName } from "../helpers";

const notifierOf = () => syncNotifier(env, `@${uniqueName("n")}:localhost`);

describe("SyncNotifier", () => {
  it("answers at once when it already knows of a later position (no lost wake-up)", async () => {
    const notifier = notifierOf();
    await notifier.notify(42);
    const started = Date.now();
    expect(await notifier.wait(41, 10_000)).toBe(42);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("wakes a waiter on a later position only, and times out otherwise", async () => {
    const notifier = notifierOf();
    await notifier.notify(10);
    const started = Date.now();
    const waiting = notifier.wait(10, 10_000);
    await notifier.notify(9);
    await notifier.notify(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await notifier.notify(11);
    expect(await waiting).toBe(11);
    expect(Date.now() - started).toBeLessThan(5000);

    const idleStart = Date.now();
    expect(await notifier.wait(11, 200)).toBe(11);
    expect(Date.now() - idleStart).toBeGreaterThanOrEqual(150);
  });

  it("wakes on the shared stream only for waiters that gave a shared position", async () => {
    const notifier = notifierOf();
    const eventsOnly = notifier.wait(5, 400);
    const both = notifier.wait(5, 10_000, 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await notifier.notify(4, "shared");
    await both;
    expect(Date.now() - started).toBeLessThan(1000);
    await eventsOnly;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
