import { describe, expect, it } from "vitest";
import { signJson } from "../../src/rooms/signing";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { crossSigningKey, deviceIdentity, signedDeviceKeys, upload } from "./e2ee-helpers";

const deviceSigning = (user: TestUser, body: unknown) =>
  call("POST", "/_matrix/client/v3/keys/device_signing/upload", { token: user.accessToken, body });
const signaturesUpload = (user: TestUser, body: unknown) =>
  call("POST", "/_matrix/client/v3/keys/signatures/upload", { token: user.accessToken, body });
const query = (user: TestUser, userId: string) =>
  call<Record<string, Record<string, Record<string, unknown>>>>("POST", "/_matrix/client/v3/keys/query", {
    token: user.accessToken,
    body: { device_keys: { [userId]: [] } },
  });

/** A user with an uploaded device and all three cross-signing keys. */
async function crossSignedUser(prefix: string) {
  const user = await registerUser(prefix);
  const device = await deviceIdentity(user);
  const deviceKeys = await signedDeviceKeys(device);
  expect((await upload(user, { device_keys: deviceKeys })).status).toBe(200);
  const master = await crossSigningKey(user, "master");
  const selfSigning = await crossSigningKey(user, "self_signing", master.key);
  const userSigning = await crossSigningKey(user, "user_signing", master.key);
  const res = await deviceSigning(user, { master_key: master.object, self_signing_key: selfSigning.object, user_signing_key: userSigning.object });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { user, device, deviceKeys, master, selfSigning, userSigning };
}

describe("POST /keys/device_signing/upload", () => {
  it("takes the first upload without UIA, then requires the password to replace keys", async () => {
    const { user, master, selfSigning } = await crossSignedUser("csa");
    const res = await query(user, user.userId);
    expect(res.body["master_keys"]![user.userId]).toEqual(master.object);
    expect(res.body["self_signing_keys"]![user.userId]).toEqual(selfSigning.object);
    expect(Object.keys(res.body["user_signing_keys"]!)).toEqual([user.userId]);

    // The same keys again: a retried bootstrap, no auth needed.
    expect((await deviceSigning(user, { master_key: master.object, self_signing_key: selfSigning.object })).status).toBe(200);

    const newMaster = await crossSigningKey(user, "master");
    const newSelf = await crossSigningKey(user, "self_signing", newMaster.key);
    const body = { master_key: newMaster.object, self_signing_key: newSelf.object };
    const challenge = await deviceSigning(user, body);
    expect(challenge.status).toBe(401);
    expect(challenge.body["flows"]).toEqual([{ stages: ["m.login.password"] }]);
    const session = challenge.body["session"] as string;
    const wrong = await deviceSigning(user, { ...body, auth: { type: "m.login.password", session, password: "wrong", identifier: { type: "m.id.user", user: user.userId } } });
    expectError(wrong, 401, "M_FORBIDDEN");
    const ok = await deviceSigning(user, {
      ...body,
      auth: { type: "m.login.password", session, password: user.password, identifier: { type: "m.id.user", user: user.userId } },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await query(user, user.userId)).body["master_keys"]![user.userId]).toEqual(newMaster.object);
  });

  it("refuses keys not signed by the master key, for another user, or malformed", async () => {
    const user = await registerUser("csb");
    const master = await crossSigningKey(user, "master");
    const stranger = await crossSigningKey(user, "master");
    const selfSigning = await crossSigningKey(user, "self_signing", stranger.key);
    expectError(await deviceSigning(user, { master_key: master.object, self_signing_key: selfSigning.object }), 400, "M_INVALID_SIGNATURE");
    expectError(await deviceSigning(user, { self_signing_key: (await crossSigningKey(user, "self_signing")).object }), 400, "M_INVALID_PARAM");
    expectError(await deviceSigning(user, { master_key: { ...master.object, user_id: "@other:localhost" } }), 400, "M_INVALID_PARAM");
    expectError(await deviceSigning(user, { master_key: { ...master.object, usage: ["self_signing"] } }), 400, "M_INVALID_PARAM");
    expectError(await deviceSigning(user, { master_key: { ...master.object, keys: { "ed25519:abc": "def" } } }), 400, "M_INVALID_PARAM");
    expectError(await deviceSigning(user, { master_key: { usage: ["master"] } }), 400, "M_MISSING_PARAM");
    expect(Object.keys((await query(user, user.userId)).body["master_keys"]!)).toEqual([]);
  });
});

describe("POST /keys/signatures/upload", () => {
  it("stores a self-signing signature on a device and a user-signing signature on another user's master key", async () => {
    const alice = await crossSignedUser("sga");
    const bob = await crossSignedUser("sgb");

    const signedDevice = await signJson(alice.deviceKeys, alice.user.userId, alice.selfSigning.key);
    const signedBobMaster = await signJson(bob.master.object, alice.user.userId, alice.userSigning.key);
    const res = await signaturesUpload(alice.user, {
      [alice.user.userId]: { [alice.user.deviceId]: signedDevice },
      [bob.user.userId]: { [bob.master.publicKey]: signedBobMaster },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ failures: {} });

    const aliceView = await query(alice.user, alice.user.userId);
    const device = aliceView.body["device_keys"]![alice.user.userId]![alice.user.deviceId] as { signatures: Record<string, Record<string, string>> };
    expect(device.signatures[alice.user.userId]![alice.selfSigning.key.keyId]).toBeTypeOf("string");
    // Alice sees her signature on Bob's master key; Carol does not.
    type Signed = { signatures?: Record<string, unknown> };
    const bobAsSeenByAlice = (await query(alice.user, bob.user.userId)).body["master_keys"]![bob.user.userId] as Signed;
    expect(Object.keys(bobAsSeenByAlice.signatures ?? {})).toEqual([alice.user.userId]);
    const carol = await registerUser("sgc");
    const bobAsSeenByCarol = (await query(carol, bob.user.userId)).body["master_keys"]![bob.user.userId] as Signed;
    expect(bobAsSeenByCarol.signatures?.[alice.user.userId]).toBeUndefined();
    // Nobody sees another user's user-signing key.
    expect((await query(carol, bob.user.userId)).body["user_signing_keys"]).toEqual({});
  });

  it("signs the master key with a device key", async () => {
    const alice = await crossSignedUser("sgd");
    const signed = await signJson(alice.master.object, alice.user.userId, alice.device.key);
    const res = await signaturesUpload(alice.user, { [alice.user.userId]: { [alice.master.publicKey]: signed } });
    expect(res.body).toEqual({ failures: {} });
    const master = (await query(alice.user, alice.user.userId)).body["master_keys"]![alice.user.userId] as { signatures: Record<string, Record<string, string>> };
    expect(Object.keys(master.signatures[alice.user.userId]!)).toContain(`ed25519:${alice.user.deviceId}`);
  });

  it("reports per-key failures: bad signature, unknown key, changed object", async () => {
    const alice = await crossSignedUser("sge");
    const bob = await crossSignedUser("sgf");
    const forged = await signJson(alice.deviceKeys, alice.user.userId, (await crossSigningKey(alice.user, "self_signing")).key);
    const changed = await signJson({ ...alice.deviceKeys, algorithms: [] }, alice.user.userId, alice.selfSigning.key);
    const bobDevice = await signJson(bob.deviceKeys, alice.user.userId, alice.userSigning.key);
    const good = await signJson(bob.master.object, alice.user.userId, alice.userSigning.key);
    const res = await signaturesUpload(alice.user, {
      [alice.user.userId]: { [alice.user.deviceId]: forged, UNKNOWN: changed },
      [bob.user.userId]: { [bob.user.deviceId]: bobDevice, [bob.master.publicKey]: good },
    });
    expect(res.status).toBe(200);
    const failures = res.body["failures"] as Record<string, Record<string, { errcode: string }>>;
    expect(failures[alice.user.userId]![alice.user.deviceId]!.errcode).toBe("M_INVALID_SIGNATURE");
    expect(failures[alice.user.userId]!["UNKNOWN"]!.errcode).toBe("M_NOT_FOUND");
    expect(failures[bob.user.userId]![bob.user.deviceId]!.errcode).toBe("M_NOT_FOUND");
    expect(failures[bob.user.userId]![bob.master.publicKey]).toBeUndefined();
    const changedRes = await signaturesUpload(alice.user, { [alice.user.userId]: { [alice.user.deviceId]: changed } });
    expect((changedRes.body["failures"] as Record<string, Record<string, { errcode: string }>>)[alice.user.userId]![alice.user.deviceId]!.errcode).toBe("M_INVALID_PARAM");
    expectError(await signaturesUpload(alice.user, { [alice.user.userId]: "x" }), 400, "M_BAD_JSON");
  });
});
