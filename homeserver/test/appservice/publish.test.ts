import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { finishHandOffs, outboxRoomId, planHandOff, recoverHandOffs, settleHandOff } from "../../src/appservice/publish";
import type { RoomView } from "../../src/appservice/interest";
import type { RoomEvent } from "../../src/rooms/event-builder";
import type { Pdu } from "../../src/rooms/pdu";
import { call, registerUser, uniqueName } from "../helpers";

/** What the RoomObject does around a successful commit. */
function publishToAppservices(state: DurableObjectState, testEnv: Env, view: RoomView, events: RoomEvent[]): void {
  settleHandOff(state, testEnv, view.roomId, planHandOff(state, testEnv, view, events), true);
}

/** An appservice interested in every room (room namespace `!.*`), pushing nowhere reachable. */
function envWithAppservice(id: string, overrides: Partial<Env> = {}): Env {
  const registration = { id, url: "http://127.0.0.1:9", as_token: `as-${id}`, hs_token: `hs-${id}`, sender_localpart: `${id}bot`, namespaces: { rooms: [{ exclusive: false, regex: "!.*" }] } };
  return { ...env, APPSERVICES: JSON.stringify([registration]), ...overrides } as Env;
}

async function roomWithMessages(n: number): Promise<{ roomId: string; events: RoomEvent[] }> {
  const alice = await registerUser("alice");
  const room = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: {} });
  const roomId = room.body["room_id"] as string;
  const events: RoomEvent[] = [];
  for (let i = 0; i < n; i++) {
    const sent = await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/p${i}`, {
      token: alice.accessToken,
      body: { msgtype: "m.text", body: `m${i}` },
    });
    const eventId = sent.body["event_id"] as string;
    events.push({ event_id: eventId, pdu: { type: "m.room.message", sender: alice.userId, content: {}, room_id: roomId } as unknown as Pdu });
  }
  return { roomId, events };
}

/** Every event id the appservice's queue holds (in flight, then waiting), once its first push has failed. */
async function queuedEventIds(asId: string, expected: number): Promise<string[]> {
  const stub = env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(asId));
  for (let i = 0; i < 100; i++) {
    const ids = await runInDurableObject(stub, (_, state) => {
      const inFlight = state.storage.sql.exec<{ body: string }>("SELECT body FROM in_flight").toArray();
      const pending = state.storage.sql.exec<{ data: string }>("SELECT data FROM pending ORDER BY seq").toArray();
      return [
        ...inFlight.flatMap((r) => (JSON.parse(r.body) as { events: { event_id: string }[] }).events.map((e) => e.event_id)),
        ...pending.map((r) => (JSON.parse(r.data) as { event_id: string }).event_id),
      ];
    });
    if (ids.length >= expected) return ids;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the queue never received the events");
}

describe("hand-off from a room to appservice queues", () => {
  it("hands committed events to the interested appservice's queue, in commit order", async () => {
    const asId = uniqueName("pub");
    const { roomId, events } = await roomWithMessages(3);
    const object = env.ROOMS.get(env.ROOMS.idFromName(uniqueName("scratch")));
    await runInDurableObject(object, (_, state) => {
      for (const event of events) publishToAppservices(state, envWithAppservice(asId), { roomId, state: new Map() }, [event]);
    });
    expect(await queuedEventIds(asId, 3)).toEqual(events.map((e) => e.event_id));
  });

  it("keeps a hand-off that failed and sends it, first, with the room's next commit", async () => {
    const asId = uniqueName("pub");
    const { roomId, events } = await roomWithMessages(2);
    const object = env.ROOMS.get(env.ROOMS.idFromName(uniqueName("scratch")));
    const unreachableQueues = {
      idFromName: (name: string) => env.APPSERVICE_QUEUES.idFromName(name),
      get: () => ({ enqueue: () => Promise.reject(new Error("queue unreachable")) }),
    } as unknown as Env["APPSERVICE_QUEUES"];
    await runInDurableObject(object, async (_, state) => {
      publishToAppservices(state, envWithAppservice(asId, { APPSERVICE_QUEUES: unreachableQueues }), { roomId, state: new Map() }, [events[0]!]);
    });
    // The failed plan stays in the room object's storage (the retries take about 1.5 s).
    await new Promise((r) => setTimeout(r, 2_000));
    const left = await runInDurableObject(object, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM appservice_outbox").one().n);
    expect(left).toBe(1);

    await runInDurableObject(object, (_, state) => {
      publishToAppservices(state, envWithAppservice(asId), { roomId, state: new Map() }, [events[1]!]);
    });
    expect(await queuedEventIds(asId, 2)).toEqual(events.map((e) => e.event_id));
    const drained = await runInDurableObject(object, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM appservice_outbox").one().n);
    expect(drained).toBe(0);
  });

  it("drops the plan of a commit that failed, and recovers plans a crash left open", async () => {
    const asId = uniqueName("pub");
    const { roomId, events } = await roomWithMessages(2);
    const object = env.ROOMS.get(env.ROOMS.idFromName(uniqueName("scratch")));
    const testEnv = envWithAppservice(asId);
    const ghost = { ...events[0]!, event_id: "$never-committed" };
    const open = await runInDurableObject(object, (_, state) => {
      // A commit that failed: its plan goes.
      settleHandOff(state, testEnv, roomId, planHandOff(state, testEnv, { roomId, state: new Map() }, [ghost]), false);
      // Two commits whose outcome the object never saw (it "died"): one whose events are in D1, one whose are not.
      planHandOff(state, testEnv, { roomId, state: new Map() }, [events[0]!]);
      planHandOff(state, testEnv, { roomId, state: new Map() }, [ghost]);
      return state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM appservice_outbox").one().n;
    });
    expect(open).toBe(2);
    await runInDurableObject(object, (_, state) => recoverHandOffs(state, testEnv, roomId));
    expect(await queuedEventIds(asId, 1)).toEqual([events[0]!.event_id]);
    const left = await runInDurableObject(object, (_, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM appservice_outbox").one().n);
    expect(left).toBe(0);
  });

  it("finishes, from the room's watchdog alarm, a committed hand-off whose drain the process did not live to run", async () => {
    const asId = uniqueName("pub");
    const { roomId, events } = await roomWithMessages(1);
    const object = env.ROOMS.get(env.ROOMS.idFromName(uniqueName("scratch")));
    const testEnv = envWithAppservice(asId);
    const pending = await runInDurableObject(object, (_, state) => {
      // Committed, but the process died before its drain started: only the alarm will come back to it.
      const seq = planHandOff(state, testEnv, { roomId, state: new Map() }, [events[0]!]);
      state.storage.sql.exec("UPDATE appservice_outbox SET committed = 1 WHERE seq = ?", seq);
      return outboxRoomId(state);
    });
    expect(pending).toBe(roomId);
    const stillOwed = await runInDurableObject(object, (_, state) => finishHandOffs(state, testEnv, roomId));
    expect(stillOwed).toBe(false);
    expect(await queuedEventIds(asId, 1)).toEqual([events[0]!.event_id]);
    expect(await runInDurableObject(object, (_, state) => outboxRoomId(state))).toBeNull();
  });
});
