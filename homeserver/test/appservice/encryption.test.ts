import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AppserviceQueue } from "../../src/appservice/queue";
import { type TestUser, call, registerUser, uniqueName } from "../helpers";
import { deviceIdentity, signedDeviceKeys, signedOneTimeKeys } from "../e2ee/e2ee-helpers";

/**
 * End-to-bridge encryption data in transactions (MSC2409 to-device, MSC3202 device lists and key counts), read
 * from the appservice's queue: its URL is unreachable, so each transaction stays in flight with its exact body
 * until the test acknowledges it (as a 2xx from the appservice would).
 */

interface Bridge {
  id: string;
  asToken: string;
  botId: string;
  env: { env: Record<string, string> };
  queue: DurableObjectStub<AppserviceQueue>;
}

function bridge(flags: Record<string, boolean> = { receive_ephemeral: true, "org.matrix.msc3202": true }): Bridge {
  const id = uniqueName("enc").toLowerCase();
  const registration = {
    id,
    url: "http://127.0.0.1:9",
    as_token: `as-${id}`,
    hs_token: `hs-${id}`,
    sender_localpart: `${id}bot`,
    rate_limited: false,
    ...flags,
    namespaces: { users: [{ exclusive: true, regex: `@_${id}_.*:localhost:8787` }] },
  };
  return {
    id,
    asToken: registration.as_token,
    botId: `@${id}bot:localhost:8787`,
    env: { env: { APPSERVICES: JSON.stringify([registration]) } },
    queue: env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(id)),
  };
}

const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

/** A ghost registered by the appservice (or its bot, `ghost` false), with a device made by MSC4190. */
async function appserviceDevice(b: Bridge, deviceId: string, ghost = true): Promise<TestUser> {
  let userId = b.botId;
  if (ghost) {
    const registered = await call("POST", "/_matrix/client/v3/register", {
      token: b.asToken,
      body: { type: "m.login.application_service", username: uniqueName(`_${b.id}_`).toLowerCase(), inhibit_login: true },
      ...b.env,
    });
    userId = registered.body["user_id"] as string;
  }
  const created = await call("PUT", `/_matrix/client/v3/devices/${deviceId}${q({ user_id: userId })}`, { token: b.asToken, body: {}, ...b.env });
  expect(created.status).toBe(200);
  return { userId, deviceId, accessToken: "", password: "" };
}

/** Uploads identity keys, `otks` one-time keys and a fallback key as the device, masquerading (`device_id`). */
async function uploadAsAppservice(b: Bridge, device: TestUser, otks: number): Promise<void> {
  const identity = await deviceIdentity(device);
  const [fallback] = Object.entries(await signedOneTimeKeys(identity, 1, "f"));
  const res = await call("POST", `/_matrix/client/v3/keys/upload${q({ user_id: device.userId, device_id: device.deviceId })}`, {
    token: b.asToken,
    body: { device_keys: await signedDeviceKeys(identity), one_time_keys: await signedOneTimeKeys(identity, otks), fallback_keys: Object.fromEntries([fallback!]) },
    ...b.env,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The next transaction's body, then acknowledges it. */
async function nextTransaction(b: Bridge): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    await runDurableObjectAlarm(b.queue);
    const { inFlight } = await b.queue.status();
    if (inFlight) {
      await runInDurableObject(b.queue, (_, state) => state.storage.sql.exec("DELETE FROM in_flight"));
      return JSON.parse(inFlight.body) as Record<string, unknown>;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no transaction");
}

/** Acknowledges everything the queue has or is about to cut. */
async function drain(b: Bridge): Promise<void> {
  for (;;) {
    await runDurableObjectAlarm(b.queue);
    const status = await b.queue.status();
    if (!status.inFlight && status.pending === 0) return;
    await nextTransaction(b);
  }
}

/** A normal user's device publishes its identity keys. */
async function uploadKeys(user: TestUser, b: Bridge): Promise<void> {
  const body = { device_keys: await signedDeviceKeys(await deviceIdentity(user)) };
  expect((await call("POST", "/_matrix/client/v3/keys/upload", { token: user.accessToken, body, ...b.env })).status).toBe(200);
}

async function sendToDevice(from: TestUser, txnId: string, messages: Record<string, Record<string, unknown>>, bEnv: Bridge["env"]) {
  const res = await call("PUT", `/_matrix/client/v3/sendToDevice/m.room.encrypted/${txnId}`, { token: from.accessToken, body: { messages }, ...bEnv });
  expect(res.status).toBe(200);
}

describe("to-device messages and key counts in transactions (MSC2409, MSC3202)", () => {
  it("delivers to-device messages for the appservice's devices in a transaction, with the key counts, not to the inbox", async () => {
    const b = bridge();
    const bot = await appserviceDevice(b, "BOTDEV", false);
    await uploadAsAppservice(b, bot, 1);
    const ghost = await appserviceDevice(b, "GHOSTDEV");
    await uploadAsAppservice(b, ghost, 3);
    await drain(b);

    const alice = await registerUser("alice");
    const claimed = await call("POST", "/_matrix/client/v3/keys/claim", {
      token: alice.accessToken,
      body: { one_time_keys: { [ghost.userId]: { GHOSTDEV: "signed_curve25519" } } },
      ...b.env,
    });
    expect(Object.keys((claimed.body["one_time_keys"] as Record<string, Record<string, unknown>>)[ghost.userId]!["GHOSTDEV"]!)).toHaveLength(1);
    const content = { algorithm: "m.olm.v1.curve25519-aes-sha2", sender_key: "abc", ciphertext: { x: { type: 0, body: "y" } } };
    await sendToDevice(alice, "t1", { [ghost.userId]: { GHOSTDEV: content, NOSUCHDEVICE: content } }, b.env);

    expect(await nextTransaction(b)).toEqual({
      events: [],
      "de.sorunome.msc2409.to_device": [
        { type: "m.room.encrypted", sender: alice.userId, content, to_user_id: ghost.userId, to_device_id: "GHOSTDEV" },
      ],
      "org.matrix.msc3202.device_one_time_keys_count": {
        [bot.userId]: { BOTDEV: { signed_curve25519: 1 } },
        [ghost.userId]: { GHOSTDEV: { signed_curve25519: 2 } },
      },
      "org.matrix.msc3202.device_unused_fallback_key_types": {
        [bot.userId]: { BOTDEV: ["signed_curve25519"] },
        [ghost.userId]: { GHOSTDEV: ["signed_curve25519"] },
      },
    });
    // Nothing waits in the device's inbox: its /sync (the appservice masquerading) has no to-device events.
    const sync = await call("GET", `/_matrix/client/v3/sync${q({ user_id: ghost.userId, device_id: "GHOSTDEV", timeout: "0" })}`, { token: b.asToken, ...b.env });
    expect(sync.status).toBe(200);
    expect(sync.body["to_device"]).toEqual({ events: [] });
  });

  it("sends a retried request's messages once, and `*` reaches every device of the user", async () => {
    const b = bridge();
    const ghost = await appserviceDevice(b, "ONE");
    await call("PUT", `/_matrix/client/v3/devices/TWO${q({ user_id: ghost.userId })}`, { token: b.asToken, body: {}, ...b.env });
    const alice = await registerUser("alice");
    await sendToDevice(alice, "same", { [ghost.userId]: { ONE: { n: 1 } } }, b.env);
    await sendToDevice(alice, "same", { [ghost.userId]: { ONE: { n: 1 } } }, b.env);
    await sendToDevice(alice, "all", { [ghost.userId]: { "*": { n: 2 } } }, b.env);
    const sent: unknown[] = [];
    while (sent.length < 3) {
      const body = await nextTransaction(b);
      sent.push(...((body["de.sorunome.msc2409.to_device"] as unknown[] | undefined) ?? []));
    }
    expect(sent).toEqual([
      { type: "m.room.encrypted", sender: alice.userId, content: { n: 1 }, to_user_id: ghost.userId, to_device_id: "ONE" },
      { type: "m.room.encrypted", sender: alice.userId, content: { n: 2 }, to_user_id: ghost.userId, to_device_id: "ONE" },
      { type: "m.room.encrypted", sender: alice.userId, content: { n: 2 }, to_user_id: ghost.userId, to_device_id: "TWO" },
    ]);
    expect(await b.queue.status()).toMatchObject({ pending: 0, inFlight: null });
  });

  it("leaves to-device messages in the inbox, and sends no device lists, for an appservice without MSC3202", async () => {
    const b = bridge({ receive_ephemeral: true });
    const ghost = await appserviceDevice(b, "INBOXDEV");
    await uploadAsAppservice(b, ghost, 1);
    const alice = await registerUser("alice");
    await sendToDevice(alice, "t1", { [ghost.userId]: { INBOXDEV: { hello: "inbox" } } }, b.env);
    const sync = await call("GET", `/_matrix/client/v3/sync${q({ user_id: ghost.userId, device_id: "INBOXDEV", timeout: "0" })}`, { token: b.asToken, ...b.env });
    expect(sync.body["to_device"]).toEqual({ events: [{ sender: alice.userId, type: "m.room.encrypted", content: { hello: "inbox" } }] });
    expect(await b.queue.status()).toMatchObject({ pending: 0, inFlight: null });
  });
});

describe("device lists in transactions (MSC3202)", () => {
  it("reports device list changes of users sharing a room with the appservice's users, and only those", async () => {
    const b = bridge();
    const ghost = await appserviceDevice(b, "GDEV");
    const bob = await registerUser("bob");
    const room = await call("POST", "/_matrix/client/v3/createRoom", { token: bob.accessToken, body: { invite: [ghost.userId] }, ...b.env });
    const roomId = room.body["room_id"] as string;
    const joined = await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}${q({ user_id: ghost.userId })}`, { token: b.asToken, body: {}, ...b.env });
    expect(joined.status).toBe(200);
    // The queue's first run starts its device list cursor: changes before it are not reported.
    await uploadAsAppservice(b, ghost, 1);
    await drain(b);

    const stranger = await registerUser("dave");
    await uploadKeys(stranger, b);
    await uploadKeys(bob, b);
    expect(await nextTransaction(b)).toEqual({ events: [], "org.matrix.msc3202.device_lists": { changed: [bob.userId], left: [] } });
    await drain(b);
    expect(await b.queue.status()).toMatchObject({ pending: 0, inFlight: null });
  });
});
