import { expect } from "vitest";
import { type SigningKey, publicKeyOf, signJson } from "../../src/rooms/signing";
import { encodeBase64 } from "../../src/util/base64";
import { type TestUser, call } from "../helpers";

/** A device's ed25519 identity, able to sign its keys as a real client would. */
export interface TestDevice {
  user: TestUser;
  key: SigningKey;
  publicKey: string;
}

export async function deviceIdentity(user: TestUser): Promise<TestDevice> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const key = { keyId: `ed25519:${user.deviceId}`, seed };
  return { user, key, publicKey: await publicKeyOf(seed) };
}

export async function signedDeviceKeys(device: TestDevice, extra: Record<string, unknown> = {}) {
  const { user } = device;
  return signJson(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
      keys: { [`curve25519:${user.deviceId}`]: randomKey(), [`ed25519:${user.deviceId}`]: device.publicKey },
      ...extra,
    },
    user.userId,
    device.key,
  );
}

export function randomKey(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** `count` signed_curve25519 one-time keys, ids prefixed so different batches never collide. */
export async function signedOneTimeKeys(device: TestDevice, count: number, prefix = "k"): Promise<Record<string, unknown>> {
  const keys: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    keys[`signed_curve25519:${prefix}${i}`] = await signJson({ key: randomKey() }, device.user.userId, device.key);
  }
  return keys;
}

export async function upload(user: TestUser, body: unknown) {
  return call("POST", "/_matrix/client/v3/keys/upload", { token: user.accessToken, body });
}

export async function uploadDevice(device: TestDevice, otks = 0): Promise<void> {
  const res = await upload(device.user, { device_keys: await signedDeviceKeys(device), one_time_keys: await signedOneTimeKeys(device, otks) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** A cross-signing key pair for `usage`, its key object signed by `signer` when given. */
export async function crossSigningKey(user: TestUser, usage: string, signer?: SigningKey) {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await publicKeyOf(seed);
  const key: SigningKey = { keyId: `ed25519:${publicKey}`, seed };
  const object = { user_id: user.userId, usage: [usage], keys: { [key.keyId]: publicKey } };
  return { key, publicKey, object: signer ? await signJson(object, user.userId, signer) : object };
}
