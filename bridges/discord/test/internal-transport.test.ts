import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AppserviceQueue, QueueItem } from "../../../homeserver/src/appservice/queue";

/**
 * The built-in transport: a registration `url` on the Worker's own origin (PUBLIC_BASEURL) is delivered through the
 * Worker's own fetch handler, with the same transaction semantics as an external appservice. In this pool the
 * Worker's env has the Discord bridge off, so its transaction route answers 404 M_UNRECOGNIZED: an answer only the
 * Worker itself gives (nothing listens on localhost:8787, so a network fetch could only fail to connect).
 */

const ownOrigin = new URL(env.PUBLIC_BASEURL).origin;
const internal = { url: `${ownOrigin}/_bridges/discord`, hsToken: "hs-internal-test" };
const external = { url: "http://127.0.0.1:9/_bridges/discord", hsToken: "hs-internal-test" };

let n = 0;
function queue(): DurableObjectStub<AppserviceQueue> {
  return env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(`internal-transport-${Date.now()}-${n++}`));
}

const events = (n: number): QueueItem[] => Array.from({ length: n }, (_, i) => ({ kind: "event", data: { event_id: `$i${i}`, type: "m.room.message" } }));

async function untilAttempts(stub: DurableObjectStub<AppserviceQueue>, attempts: number) {
  for (let i = 0; i < 50; i++) {
    const status = await stub.status();
    if (status.attempts >= attempts) return status;
    await runDurableObjectAlarm(stub);
  }
  throw new Error(`queue never reached ${attempts} attempts`);
}

describe("appservice queue: built-in transport", () => {
  it("delivers a url on the Worker's own origin through the Worker itself, retrying the same transaction", async () => {
    const stub = queue();
    await stub.enqueue(internal, events(2));
    const first = await untilAttempts(stub, 1);
    // The bridge route's answer: the request reached the Worker's router, not the network.
    expect(first.lastFailure).toBe("answered 404 (internal)");
    expect(first.inFlight?.txnId).toBe("1");
    expect(JSON.parse(first.inFlight!.body)).toEqual({ events: events(2).map((e) => e.data) });

    const second = await untilAttempts(stub, 2);
    expect(second.inFlight).toEqual(first.inFlight);
    expect(second.nextTxnId).toBe(2);
    expect(second.lastFailure).toBe("answered 404 (internal)");
  });

  it("keeps the network path for any other url", async () => {
    const stub = queue();
    await stub.enqueue(external, events(1));
    const status = await untilAttempts(stub, 1);
    expect(status.lastFailure).toMatch(/^failed: /);
    expect(status.inFlight?.txnId).toBe("1");
  });
});
