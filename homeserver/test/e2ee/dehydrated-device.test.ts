import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { type TestDevice, deviceIdentity, signedDeviceKeys, signedOneTimeKeys } from "./e2ee-helpers";

const PATH = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device";

/** The identity of a device the client names itself (the dehydrated one). */
async function dehydratedIdentity(user: TestUser, deviceId: string): Promise<TestDevice> {
  return deviceIdentity({ ...user, deviceId });
}

describe("MSC3814 dehydrated devices", () => {
  it("stores the device with its keys, queues its to-device messages in pages, and deletes it", async () => {
    const alice = await registerUser("dda");
    const bob = await registerUser("ddb");
    expectError(await call("GET", PATH, { token: alice.accessToken }), 404, "M_NOT_FOUND");

    const device = await dehydratedIdentity(alice, "DEHYDRATED1");
    const put = await call("PUT", PATH, {
      token: alice.accessToken,
      body: {
        device_id: "DEHYDRATED1",
        device_data: { algorithm: "org.matrix.msc3814.v1.olm", device_pickle: "opaque" },
        initial_device_display_name: "Dehydrated device",
        device_keys: await signedDeviceKeys(device, { dehydrated: true }),
        one_time_keys: await signedOneTimeKeys(device, 2),
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toEqual({ device_id: "DEHYDRATED1" });
    expect((await call("GET", PATH, { token: alice.accessToken })).body).toEqual({
      device_id: "DEHYDRATED1",
      device_data: { algorithm: "org.matrix.msc3814.v1.olm", device_pickle: "opaque" },
    });
    // Others see it like any device, and can claim its keys.
    const query = await call("POST", "/_matrix/client/v3/keys/query", { token: bob.accessToken, body: { device_keys: { [alice.userId]: [] } } });
    expect(Object.keys((query.body["device_keys"] as Record<string, object>)[alice.userId]!)).toContain("DEHYDRATED1");
    const claim = await call("POST", "/_matrix/client/v3/keys/claim", {
      token: bob.accessToken,
      body: { one_time_keys: { [alice.userId]: { DEHYDRATED1: "signed_curve25519" } } },
    });
    expect(Object.keys((claim.body["one_time_keys"] as Record<string, object>)[alice.userId]!)).toEqual(["DEHYDRATED1"]);

    for (let i = 0; i < 3; i++) {
      const res = await call("PUT", `/_matrix/client/v3/sendToDevice/m.room.encrypted/dd${i}`, {
        token: bob.accessToken,
        body: { messages: { [alice.userId]: { DEHYDRATED1: { n: i } } } },
      });
      expect(res.status).toBe(200);
    }
    const events = (body: unknown, deviceId = "DEHYDRATED1") => call("POST", `${PATH}/${deviceId}/events`, { token: alice.accessToken, body });
    const page = await events({});
    expect(page.status).toBe(200);
    expect((page.body["events"] as { content: unknown }[]).map((e) => e.content)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    const next = await events({ next_batch: page.body["next_batch"] });
    expect(next.body["events"]).toEqual([]);
    expect((await events({})).body["events"]).toEqual([]);
    expectError(await events({}, alice.deviceId), 403, "M_FORBIDDEN");

    // The current form: GET with `from`, and no next_batch once nothing is left.
    await call("PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/dd-get", {
      token: bob.accessToken,
      body: { messages: { [alice.userId]: { DEHYDRATED1: { n: 3 } } } },
    });
    const get = (from?: string) => call("GET", `${PATH}/DEHYDRATED1/events${from ? `?from=${from}` : ""}`, { token: alice.accessToken });
    const got = await get();
    expect((got.body["events"] as { content: unknown }[]).map((e) => e.content)).toEqual([{ n: 3 }]);
    expect((await get(got.body["next_batch"] as string)).body).toEqual({ events: [] });

    expect((await call("DELETE", PATH, { token: alice.accessToken })).body).toEqual({ device_id: "DEHYDRATED1" });
    expectError(await call("GET", PATH, { token: alice.accessToken }), 404, "M_NOT_FOUND");
    const after = await call("POST", "/_matrix/client/v3/keys/query", { token: bob.accessToken, body: { device_keys: { [alice.userId]: [] } } });
    expect(Object.keys((after.body["device_keys"] as Record<string, object>)[alice.userId]!)).not.toContain("DEHYDRATED1");
  });

  it("replaces the previous dehydrated device and validates the body", async () => {
    const alice = await registerUser("ddc");
    for (const id of ["DH1", "DH2"]) {
      const res = await call("PUT", PATH, { token: alice.accessToken, body: { device_id: id, device_data: { v: id } } });
      expect(res.status).toBe(200);
    }
    expect((await call("GET", PATH, { token: alice.accessToken })).body).toEqual({ device_id: "DH2", device_data: { v: "DH2" } });
    const devices = await call("GET", "/_matrix/client/v3/devices", { token: alice.accessToken });
    expect((devices.body["devices"] as { device_id: string }[]).map((d) => d.device_id)).not.toContain("DH1");
    expectError(await call("PUT", PATH, { token: alice.accessToken, body: { device_id: alice.deviceId, device_data: {} } }), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", PATH, { token: alice.accessToken, body: { device_id: "X" } }), 400, "M_MISSING_PARAM");
  });
});
