import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ackToDevice, toDeviceSince } from "../../src/e2ee/to-device";
import { type TestUser, call, expectError, registerUser } from "../helpers";

const send = (user: TestUser, txnId: string, messages: unknown, type = "m.test") =>
  call("PUT", `/_matrix/client/v3/sendToDevice/${type}/${txnId}`, { token: user.accessToken, body: { messages } });

async function secondDevice(user: TestUser): Promise<TestUser> {
  const res = await call("POST", "/_matrix/client/v3/login", {
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
  });
  return { ...user, accessToken: res.body["access_token"] as string, deviceId: res.body["device_id"] as string };
}

describe("PUT /sendToDevice", () => {
  it("queues per device, once per txnId, and `*` reaches every device", async () => {
    const alice = await registerUser("tda");
    const bob = await registerUser("tdb");
    const bob2 = await secondDevice(bob);
    expect((await send(alice, "t1", { [bob.userId]: { [bob.deviceId]: { n: 1 } } })).status).toBe(200);
    expect((await send(alice, "t1", { [bob.userId]: { [bob.deviceId]: { n: 1 } } })).status).toBe(200);
    expect((await send(alice, "t2", { [bob.userId]: { "*": { n: 2 } }, "@x:remote.example": { D: { n: 3 } } }, "m.other")).status).toBe(200);
    expect((await send(alice, "t3", { [bob.userId]: { NOSUCHDEVICE: { n: 4 } } })).status).toBe(200);

    const first = await toDeviceSince(env.DB, bob.userId, bob.deviceId, 0, 100);
    expect(first.events).toEqual([
      { sender: alice.userId, type: "m.test", content: { n: 1 } },
      { sender: alice.userId, type: "m.other", content: { n: 2 } },
    ]);
    const second = await toDeviceSince(env.DB, bob2.userId, bob2.deviceId, 0, 100);
    expect(second.events).toEqual([{ sender: alice.userId, type: "m.other", content: { n: 2 } }]);

    // A page stops at the limit and says so; acknowledging deletes up to a position.
    const page = await toDeviceSince(env.DB, bob.userId, bob.deviceId, 0, 1);
    expect(page).toMatchObject({ events: [{ content: { n: 1 } }], limited: true });
    await ackToDevice(env.DB, bob.userId, bob.deviceId, page.lastPosition!);
    expect((await toDeviceSince(env.DB, bob.userId, bob.deviceId, 0, 100)).events).toEqual([{ sender: alice.userId, type: "m.other", content: { n: 2 } }]);
  });

  it("validates the body", async () => {
    const alice = await registerUser("tdc");
    expectError(await send(alice, "bad", { "@a:localhost": { D: "not an object" } }), 400, "M_BAD_JSON");
    expectError(await call("PUT", "/_matrix/client/v3/sendToDevice/m.test/x", { token: alice.accessToken, body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", "/_matrix/client/v3/sendToDevice/m.test/x", { body: { messages: {} } }), 401, "M_MISSING_TOKEN");
  });
});
