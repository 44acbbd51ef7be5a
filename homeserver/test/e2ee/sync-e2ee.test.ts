import { describe, expect, it } from "vitest";
import { type TestUser, call, registerUser } from "../helpers";
import { deviceIdentity, signedOneTimeKeys, uploadDevice } from "./e2ee-helpers";

interface E2eeSync {
  next_batch: string;
  to_device: { events: { sender: string; type: string; content: Record<string, unknown> }[] };
  device_lists: { changed: string[]; left: string[] };
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

const sync = (user: TestUser, since?: string, timeout = 0) =>
  call<E2eeSync>("GET", `/_matrix/client/v3/sync?timeout=${timeout}${since ? `&since=${since}` : ""}`, { token: user.accessToken });

const sendToDevice = (from: TestUser, to: TestUser, txnId: string, content: Record<string, unknown>) =>
  call("PUT", `/_matrix/client/v3/sendToDevice/m.test/${txnId}`, { token: from.accessToken, body: { messages: { [to.userId]: { [to.deviceId]: content } } } });

describe("/sync end-to-end encryption sections", () => {
  it("delivers to-device messages until the next since acknowledges them", async () => {
    const alice = await registerUser("sea");
    const bob = await registerUser("seb");
    await sendToDevice(alice, bob, "a", { n: 1 });
    const first = await sync(bob);
    expect(first.body.to_device.events).toEqual([{ sender: alice.userId, type: "m.test", content: { n: 1 } }]);
    // The same since again (a retried request) gets the message again; the next since does not.
    expect((await sync(bob)).body.to_device.events).toHaveLength(1);
    const second = await sync(bob, first.body.next_batch);
    expect(second.body.to_device.events).toEqual([]);
    expect((await sync(bob, first.body.next_batch)).body.to_device.events).toEqual([]);
  });

  it("splits a long to-device queue over several syncs without losing any", async () => {
    const alice = await registerUser("sec");
    const bob = await registerUser("sed");
    await call("PUT", "/_matrix/client/v3/sendToDevice/m.test/many", {
      token: alice.accessToken,
      body: { messages: { [bob.userId]: { [bob.deviceId]: { n: 0 } } } },
    });
    for (let i = 1; i <= 150; i++) await sendToDevice(alice, bob, `m${i}`, { n: i });
    const seen: number[] = [];
    let since: string | undefined;
    for (let round = 0; round < 4; round++) {
      const res = await sync(bob, since);
      seen.push(...res.body.to_device.events.map((e) => e.content["n"] as number));
      since = res.body.next_batch;
    }
    expect(seen).toEqual(Array.from({ length: 151 }, (_, i) => i));
  }, 60_000);

  it("wakes a waiting sync when a to-device message arrives", async () => {
    const alice = await registerUser("see");
    const bob = await registerUser("sef");
    const since = (await sync(bob)).body.next_batch;
    const started = Date.now();
    const waiting = sync(bob, since, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await sendToDevice(alice, bob, "wake", { hello: true });
    const res = await waiting;
    expect(res.body.to_device.events).toEqual([{ sender: alice.userId, type: "m.test", content: { hello: true } }]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("wakes a room member's waiting sync when a device uploads its keys", async () => {
    const alice = await registerUser("sei");
    const bob = await registerUser("sej");
    const created = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { preset: "public_chat" } });
    expect((await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(created.body["room_id"] as string)}`, { token: bob.accessToken })).status).toBe(200);
    const since = (await sync(alice)).body.next_batch;
    const started = Date.now();
    const waiting = sync(alice, since, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await uploadDevice(await deviceIdentity(bob));
    const res = await waiting;
    expect(res.body.device_lists.changed).toEqual([bob.userId]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("reports device list changes of room members, key counts and unused fallback key types", async () => {
    const alice = await registerUser("seg");
    const bob = await registerUser("seh");
    const created = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { preset: "public_chat" } });
    const roomId = created.body["room_id"] as string;
    const since = (await sync(alice)).body.next_batch;
    expect((await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: bob.accessToken })).status).toBe(200);
    // Bob joining is news: Alice has never fetched his keys.
    const joined = await sync(alice, since);
    expect(joined.body.device_lists.changed).toContain(bob.userId);
    const afterJoin = joined.body.next_batch;

    const bobDevice = await deviceIdentity(bob);
    await uploadDevice(bobDevice, 5);
    const changed = await sync(alice, afterJoin);
    expect(changed.body.device_lists).toEqual({ changed: [bob.userId], left: [] });

    const bobSync = await sync(bob);
    expect(bobSync.body.device_one_time_keys_count).toEqual({ signed_curve25519: 5 });
    expect(bobSync.body.device_unused_fallback_key_types).toEqual([]);
    await call("POST", "/_matrix/client/v3/keys/upload", {
      token: bob.accessToken,
      body: { fallback_keys: { "signed_curve25519:fb": (await signedOneTimeKeys(bobDevice, 1, "fb"))["signed_curve25519:fb0"] } },
    });
    expect((await sync(bob)).body.device_unused_fallback_key_types).toEqual(["signed_curve25519"]);

    // Bob leaves: Alice hears he is gone.
    expect((await call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { token: bob.accessToken, body: {} })).status).toBe(200);
    const left = await sync(alice, changed.body.next_batch);
    expect(left.body.device_lists).toEqual({ changed: [], left: [bob.userId] });
  });
});
