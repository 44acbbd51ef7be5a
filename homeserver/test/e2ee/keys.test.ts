import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { userKeys } from "../../src/e2ee/user-keys";
import { signJson } from "../../src/rooms/signing";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { deviceIdentity, randomKey, signedDeviceKeys, signedOneTimeKeys, upload, uploadDevice } from "./e2ee-helpers";

const claim = (user: TestUser, body: unknown) => call("POST", "/_matrix/client/v3/keys/claim", { token: user.accessToken, body });
const query = (user: TestUser, body: unknown) => call("POST", "/_matrix/client/v3/keys/query", { token: user.accessToken, body });

async function login(user: TestUser): Promise<TestUser> {
  const res = await call("POST", "/_matrix/client/v3/login", {
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
  });
  expect(res.status).toBe(200);
  return { ...user, accessToken: res.body["access_token"] as string, deviceId: res.body["device_id"] as string };
}

async function sharedRoom(a: TestUser, b: TestUser): Promise<string> {
  const created = await call("POST", "/_matrix/client/v3/createRoom", { token: a.accessToken, body: { preset: "public_chat" } });
  const roomId = created.body["room_id"] as string;
  expect((await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: b.accessToken })).status).toBe(200);
  return roomId;
}

describe("POST /keys/upload", () => {
  it("stores signed device keys and one-time keys and answers the counts", async () => {
    const alice = await registerUser("kua");
    const device = await deviceIdentity(alice);
    const res = await upload(alice, {
      device_keys: await signedDeviceKeys(device),
      one_time_keys: { ...(await signedOneTimeKeys(device, 3)), "curve25519:plain": randomKey() },
      fallback_keys: { "signed_curve25519:fb": await signJson({ key: randomKey(), fallback: true }, alice.userId, device.key) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ one_time_key_counts: { signed_curve25519: 3, curve25519: 1 } });
    // Counts only: an empty upload reports what is there.
    expect((await upload(alice, {})).body).toEqual({ one_time_key_counts: { signed_curve25519: 3, curve25519: 1 } });
  });

  it("refuses device keys that are unsigned, wrongly signed, or for another user or device", async () => {
    const alice = await registerUser("kub");
    const device = await deviceIdentity(alice);
    const keys = await signedDeviceKeys(device);
    expectError(await upload(alice, { device_keys: { ...keys, signatures: {} } }), 400, "M_INVALID_SIGNATURE");
    const tampered = { ...keys, algorithms: ["m.megolm.v1.aes-sha2"] };
    expectError(await upload(alice, { device_keys: tampered }), 400, "M_INVALID_SIGNATURE");
    const other = await deviceIdentity(alice);
    const signedByOther = await signJson({ ...keys, signatures: {} }, alice.userId, other.key);
    expectError(await upload(alice, { device_keys: signedByOther }), 400, "M_INVALID_SIGNATURE");
    const bob = await registerUser("kubb");
    expectError(await upload(bob, { device_keys: keys }), 400, "M_INVALID_PARAM");
    expectError(await upload(alice, { device_keys: { ...keys, device_id: "OTHER" } }), 400, "M_INVALID_PARAM");
    expectError(await upload(alice, { device_keys: { ...keys, signatures: "x" } }), 400, "M_BAD_JSON");
    // Nothing was stored by any of these.
    const res = await query(alice, { device_keys: { [alice.userId]: [] } });
    expect(res.body["device_keys"]).toEqual({ [alice.userId]: {} });
  });

  it("accepts the same device keys again but refuses changed ones", async () => {
    const alice = await registerUser("kuc");
    const device = await deviceIdentity(alice);
    const keys = await signedDeviceKeys(device);
    expect((await upload(alice, { device_keys: keys })).status).toBe(200);
    expect((await upload(alice, { device_keys: keys })).status).toBe(200);
    expectError(await upload(alice, { device_keys: await signedDeviceKeys(device) }), 400, "M_INVALID_PARAM");
  });

  it("refuses malformed key ids, unsigned signed_curve25519 keys and a changed one-time key", async () => {
    const alice = await registerUser("kud");
    const device = await deviceIdentity(alice);
    await uploadDevice(device);
    expectError(await upload(alice, { one_time_keys: { nocolon: { key: randomKey(), signatures: {} } } }), 400, "M_BAD_JSON");
    expectError(await upload(alice, { one_time_keys: { ":empty": randomKey() } }), 400, "M_BAD_JSON");
    expectError(await upload(alice, { one_time_keys: { "signed_curve25519:a": randomKey() } }), 400, "M_BAD_JSON");
    const first = await signedOneTimeKeys(device, 1, "same");
    expect((await upload(alice, { one_time_keys: first })).body).toEqual({ one_time_key_counts: { signed_curve25519: 1 } });
    // A retried upload is fine; the same id with another key is not.
    expect((await upload(alice, { one_time_keys: first })).status).toBe(200);
    expectError(await upload(alice, { one_time_keys: await signedOneTimeKeys(device, 1, "same") }), 400, "M_INVALID_PARAM");
  });

  it("answers 10,000 one-time keys in one request with a clear 4xx, never a 500", async () => {
    const alice = await registerUser("kue");
    const small: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) small[`curve25519:${i}`] = "AAAA";
    const res = await upload(alice, { one_time_keys: small });
    expectError(res, 400, "M_BAD_JSON");
    expect(res.body["error"]).toContain("at most 1000 keys");
    const device = await deviceIdentity(alice);
    const signed = await signedOneTimeKeys(device, 10_000);
    expectError(await upload(alice, { one_time_keys: signed }), 413, "M_TOO_LARGE");
  }, 60_000);
});

describe("POST /keys/claim", () => {
  it("hands out each one-time key once under 20 concurrent claims, then the fallback key", async () => {
    const alice = await registerUser("kca");
    const bob = await registerUser("kcb");
    const device = await deviceIdentity(alice);
    const fallback = await signJson({ key: randomKey(), fallback: true }, alice.userId, device.key);
    const res = await upload(alice, {
      device_keys: await signedDeviceKeys(device),
      one_time_keys: await signedOneTimeKeys(device, 10),
      fallback_keys: { "signed_curve25519:fallback": fallback },
    });
    expect(res.body).toEqual({ one_time_key_counts: { signed_curve25519: 10 } });

    const body = { one_time_keys: { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } } };
    const results = await Promise.all(Array.from({ length: 20 }, () => claim(bob, body)));
    const claimed = results.map((r) => {
      expect(r.status).toBe(200);
      const keys = (r.body["one_time_keys"] as Record<string, Record<string, Record<string, unknown>>>)[alice.userId]![alice.deviceId]!;
      return Object.keys(keys)[0]!;
    });
    const oneTime = claimed.filter((k) => k !== "signed_curve25519:fallback");
    expect(oneTime).toHaveLength(10);
    expect(new Set(oneTime).size).toBe(10);
    expect(claimed.filter((k) => k === "signed_curve25519:fallback")).toHaveLength(10);

    // The fallback key stays, and is reported used; a new one is unused again.
    const again = await claim(bob, body);
    expect(again.body["one_time_keys"]).toEqual({ [alice.userId]: { [alice.deviceId]: { "signed_curve25519:fallback": fallback } } });
    expect((await upload(alice, {})).body).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
  });

  it("returns nothing for unknown devices and users, and failures for other servers", async () => {
    const bob = await registerUser("kcc");
    const res = await claim(bob, {
      one_time_keys: { [bob.userId]: { NOPE: "signed_curve25519" }, "@x:elsewhere.example": { D: "signed_curve25519" } },
    });
    expect(res.status).toBe(200);
    expect(res.body["one_time_keys"]).toEqual({});
    expect(Object.keys(res.body["failures"] as object)).toEqual(["elsewhere.example"]);
    expectError(await claim(bob, { one_time_keys: { [bob.userId]: { D: 5 } } }), 400, "M_BAD_JSON");
  });
});

describe("POST /keys/query and GET /keys/changes", () => {
  it("returns device keys with display names, and failures for remote servers", async () => {
    const alice = await registerUser("kqa");
    const device = await deviceIdentity(alice);
    const keys = await signedDeviceKeys(device);
    await upload(alice, { device_keys: keys });
    await call("PUT", `/_matrix/client/v3/devices/${alice.deviceId}`, { token: alice.accessToken, body: { display_name: "Alice's phone" } });
    const res = await query(alice, { device_keys: { [alice.userId]: [], "@bob:remote.example": [] } });
    expect(res.status).toBe(200);
    const got = (res.body["device_keys"] as Record<string, Record<string, Record<string, unknown>>>)[alice.userId]![alice.deviceId]!;
    expect(got).toMatchObject({ ...keys, unsigned: { device_display_name: "Alice's phone" } });
    expect(res.body["failures"]).toEqual({ "remote.example": expect.any(Object) });
    expectError(await query(alice, { device_keys: [] }), 400, "M_BAD_JSON");
  });

  it("reports key changes of users sharing a room, and deleted devices", async () => {
    const alice = await registerUser("kxa");
    const bob = await registerUser("kxb");
    const carol = await registerUser("kxc");
    await sharedRoom(alice, bob);
    const sync = await call("GET", "/_matrix/client/v3/sync?timeout=0", { token: alice.accessToken });
    const from = sync.body["next_batch"] as string;
    const bobDevice = await deviceIdentity(bob);
    await uploadDevice(bobDevice);
    await uploadDevice(await deviceIdentity(carol));
    const now = (await call("GET", "/_matrix/client/v3/sync?timeout=0", { token: alice.accessToken, headers: {} })).body["next_batch"] as string;
    const changes = await call("GET", `/_matrix/client/v3/keys/changes?from=${from}&to=${now}`, { token: alice.accessToken });
    expect(changes.status).toBe(200);
    expect(changes.body).toEqual({ changed: [bob.userId], left: [] });

    // Bob signs in a second device and deletes it: its keys go and his list changes again.
    const bob2 = await login(bob);
    await uploadDevice(await deviceIdentity(bob2), 2);
    expect(Object.keys((await query(alice, { device_keys: { [bob.userId]: [] } })).body["device_keys"] as object)).toEqual([bob.userId]);
    const logout = await call("POST", "/_matrix/client/v3/logout", { token: bob2.accessToken });
    expect(logout.status).toBe(200);
    const devices = (await query(alice, { device_keys: { [bob.userId]: [] } })).body["device_keys"] as Record<string, object>;
    expect(Object.keys(devices[bob.userId]!)).toEqual([bob.deviceId]);
    const claimed = await claim(alice, { one_time_keys: { [bob.userId]: { [bob2.deviceId]: "signed_curve25519" } } });
    expect(claimed.body["one_time_keys"]).toEqual({});
    const later = (await call("GET", "/_matrix/client/v3/sync?timeout=0", { token: alice.accessToken })).body["next_batch"] as string;
    const changes2 = await call("GET", `/_matrix/client/v3/keys/changes?from=${now}&to=${later}`, { token: alice.accessToken });
    expect(changes2.body).toEqual({ changed: [bob.userId], left: [] });
    expectError(await call("GET", "/_matrix/client/v3/keys/changes?from=bad&to=bad", { token: alice.accessToken }), 400, "M_INVALID_PARAM");
  });

  it("collects the one-time keys of signed-out devices once they have been quiet for an hour", async () => {
    const alice = await registerUser("kga");
    const gone = await login(alice);
    await uploadDevice(await deviceIdentity(gone), 5);
    expect((await call("POST", "/_matrix/client/v3/logout", { token: gone.accessToken })).status).toBe(200);
    const stub = userKeys(env, alice.userId);
    const keysOf = (deviceId: string) =>
      runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM one_time_keys WHERE device_id = ?", deviceId).one()["n"]);
    expect(await keysOf(gone.deviceId)).toBe(5);

    // A new device within the hour leaves them (the other device might be signing in right now)...
    await uploadDevice(await deviceIdentity(await login(alice)), 1);
    expect(await keysOf(gone.deviceId)).toBe(5);
    // ...and after it, the next new device collects them; live devices keep theirs.
    await uploadDevice(await deviceIdentity(alice), 2);
    await runInDurableObject(stub, (_instance, state) => void state.storage.sql.exec("UPDATE device_uploads SET last_upload_ts = 0"));
    await uploadDevice(await deviceIdentity(await login(alice)), 1);
    expect(await keysOf(gone.deviceId)).toBe(0);
    expect(await keysOf(alice.deviceId)).toBe(2);
  });
});
