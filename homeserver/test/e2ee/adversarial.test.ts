import { describe, expect, it } from "vitest";
import { call, registerUser } from "../helpers";
import { deviceIdentity, signedDeviceKeys } from "./e2ee-helpers";

/** Inputs that have broken other endpoints (lone surrogates, huge numbers, odd ids): always a Matrix answer, never a 5xx. */
describe("e2ee endpoints under hostile input", () => {
  it("answers every hostile request with a 2xx or a 4xx Matrix error", async () => {
    const alice = await registerUser("adv");
    const device = await deviceIdentity(alice);
    const keys = await signedDeviceKeys(device);
    const lone = "\ud800";
    const requests: [string, string, unknown][] = [
      ["POST", "/_matrix/client/v3/keys/upload", { device_keys: { ...keys, extra: lone } }],
      ["POST", "/_matrix/client/v3/keys/upload", { device_keys: { ...keys, extra: 1.5 } }],
      ["POST", "/_matrix/client/v3/keys/upload", { one_time_keys: { [`signed_curve25519:${lone}`]: { key: lone, signatures: {} } } }],
      ["POST", "/_matrix/client/v3/keys/upload", { fallback_keys: { "signed_curve25519:a": { key: lone, signatures: { [lone]: { [lone]: lone } } } } }],
      ["POST", "/_matrix/client/v3/keys/claim", { one_time_keys: { [`@${lone}:localhost:8787`]: { [lone]: lone } } }],
      ["POST", "/_matrix/client/v3/keys/claim", { one_time_keys: { [alice.userId]: { [lone]: "signed_curve25519" } } }],
      ["POST", "/_matrix/client/v3/keys/query", { device_keys: { [`@${lone}:localhost:8787`]: [lone], [lone]: [] } }],
      ["POST", "/_matrix/client/v3/keys/signatures/upload", { [alice.userId]: { [lone]: { signatures: { [alice.userId]: { [lone]: lone } } } } }],
      ["POST", "/_matrix/client/v3/keys/device_signing/upload", { master_key: { user_id: alice.userId, usage: ["master"], keys: { [`ed25519:${lone}`]: lone } } }],
      ["POST", "/_matrix/client/v3/keys/device_signing/upload", { master_key: { user_id: alice.userId, usage: ["master"], keys: { "ed25519:a": "a" }, n: 2 ** 60 } }],
      ["PUT", `/_matrix/client/v3/sendToDevice/m.x/%ED%A0%80`, { messages: { [alice.userId]: { "*": { lone, big: 2 ** 60 } } } }],
      ["PUT", "/_matrix/client/v3/sendToDevice/m.x/t2", { messages: { [`@${lone}:localhost:8787`]: { [lone]: {} } } }],
      ["POST", "/_matrix/client/v3/room_keys/version", { algorithm: lone, auth_data: { lone } }],
      ["PUT", `/_matrix/client/v3/room_keys/keys/${encodeURIComponent("!r:x")}/s?version=1`, { first_message_index: 2 ** 60, forwarded_count: 0, is_verified: true, session_data: { lone } }],
      ["GET", "/_matrix/client/v3/room_keys/keys?version=99999999999999999999", undefined],
      ["GET", "/_matrix/client/v3/keys/changes?from=s99999999999999_0&to=s0_0", undefined],
      ["PUT", "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device", { device_id: lone, device_data: { lone } }],
      ["POST", `/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/%ED%A0%80/events`, { next_batch: "-1" }],
    ];
    for (const [method, path, body] of requests) {
      const res = await call(method, path, { token: alice.accessToken, body });
      expect(res.status, `${method} ${path} -> ${JSON.stringify(res.body)}`).toBeLessThan(500);
      if (res.status >= 400) expect(typeof res.body["errcode"], `${method} ${path}`).toBe("string");
    }
  });
});
