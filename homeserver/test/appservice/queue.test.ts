import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type AppserviceQueue, type QueueItem, retryDelay } from "../../src/appservice/queue";
import { uniqueName } from "../helpers";

// Nothing listens on port 9, so every push fails: the queue must keep the transaction and back off.
const target = { url: "http://127.0.0.1:9", hsToken: "hs-queue-test" };

function queue(): DurableObjectStub<AppserviceQueue> {
  return env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(uniqueName("as")));
}

const events = (from: number, n: number): QueueItem[] =>
  Array.from({ length: n }, (_, i) => ({ kind: "event", data: { event_id: `$e${from + i}`, type: "m.room.message" } }));

const alarmAt = (stub: DurableObjectStub<AppserviceQueue>) => runInDurableObject(stub, (_, state) => state.storage.getAlarm());

/**
 * Runs deliveries until `attempts` failed ones have happened. The first alarm is due at once, so the local runtime
 * may fire it on its own before the test does: either way counts.
 */
async function untilAttempts(stub: DurableObjectStub<AppserviceQueue>, attempts: number) {
  for (let i = 0; i < 50; i++) {
    const status = await stub.status();
    if (status.attempts >= attempts) return status;
    await runDurableObjectAlarm(stub);
  }
  throw new Error(`queue never reached ${attempts} attempts`);
}

describe("appservice queue", () => {
  it("backs off exponentially up to the cap", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 300_000))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelay(20, 300_000)).toBe(300_000);
    expect(retryDelay(1_000, 5_000)).toBe(5_000);
  });

  it("retries a failed transaction with the same txnId and the identical body, in order", async () => {
    const stub = queue();
    await stub.enqueue(target, events(0, 3));
    const first = await untilAttempts(stub, 1);
    expect(first.pending).toBe(0);
    expect(first.inFlight?.txnId).toBe("1");
    expect(JSON.parse(first.inFlight!.body)).toEqual({ events: events(0, 3).map((e) => e.data) });
    const retryAt = (await alarmAt(stub))!;
    expect(retryAt).toBeGreaterThan(Date.now() + 500);

    // New events wait behind the stuck transaction and do not pull the retry forward.
    await stub.enqueue(target, events(3, 2));
    expect(await alarmAt(stub)).toBe(retryAt);

    const second = await untilAttempts(stub, first.attempts + 1);
    expect(second.inFlight).toEqual(first.inFlight);
    expect(second.pending).toBe(2);
    expect(second.nextTxnId).toBe(2);
    expect((await alarmAt(stub))!).toBeGreaterThan(Date.now() + 1_000);
  });

  it("cuts transactions of at most 100 items, oldest first", async () => {
    const stub = queue();
    await stub.enqueue(target, events(0, 250));
    const status = await untilAttempts(stub, 1);
    const body = JSON.parse(status.inFlight!.body) as { events: { event_id: string }[] };
    expect(body.events.map((e) => e.event_id)).toEqual(events(0, 100).map((e) => (e.data as { event_id: string }).event_id));
    expect(status.pending).toBe(150);
  });

  it("takes each keyed item once, so a hand-off can be retried", async () => {
    const stub = queue();
    const keyed = events(0, 2).map((e, i) => ({ ...e, key: `$e${i}` }));
    await stub.enqueue(target, keyed);
    await stub.enqueue(target, [...keyed, { ...events(2, 1)[0]!, key: "$e2" }]);
    const status = await untilAttempts(stub, 1);
    // The runtime may cut the first transaction between the two calls: what is in flight and what waits add up.
    const inFlight = (JSON.parse(status.inFlight!.body) as { events: { event_id: string }[] }).events.map((e) => e.event_id);
    expect(inFlight).toEqual(["$e0", "$e1", "$e2"].slice(0, inFlight.length));
    expect(inFlight.length + status.pending).toBe(3);
  });

  it("sends ephemeral data beside the events, under the stable and the MSC2409 names", async () => {
    const stub = queue();
    const typing = { type: "m.typing", room_id: "!r:hs", content: { user_ids: [] } };
    await stub.enqueue(target, [...events(0, 1), { kind: "ephemeral", data: typing }]);
    const body = JSON.parse((await untilAttempts(stub, 1)).inFlight!.body) as Record<string, unknown>;
    expect(body).toEqual({ events: [events(0, 1)[0]!.data], ephemeral: [typing], "de.sorunome.msc2409.ephemeral": [typing] });
  });
});
