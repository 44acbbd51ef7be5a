import { describe, expect, it } from "vitest";
import * as ed from "@noble/ed25519";
import { api, raw, registeredClient } from "./client";

/** Canonical JSON for the plain objects these tests sign (strings, integers, arrays, objects). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");

async function sign<T extends Record<string, unknown>>(obj: T, userId: string, keyId: string, seed: Uint8Array): Promise<T> {
  const { signatures, unsigned: _unsigned, ...signed } = obj as T & { signatures?: Record<string, Record<string, string>>; unsigned?: unknown };
  const signature = b64(await ed.signAsync(new TextEncoder().encode(canonical(signed)), seed));
  return { ...obj, signatures: { ...signatures, [userId]: { ...signatures?.[userId], [keyId]: signature } } };
}

async function keyPair() {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return { seed, publicKey: b64(await ed.getPublicKeyAsync(seed)) };
}

/** Every e2ee endpoint through the real Worker, each response checked against the spec's OpenAPI definitions by `api()`. */
describe("e2ee endpoints answer in the spec's shapes", () => {
  it("keys, cross-signing, signatures, to-device and key backup", async () => {
    const { client: alice } = await registeredClient("e2eapia");
    const { client: bob } = await registeredClient("e2eapib");
    const aliceId = alice.getUserId()!;
    const deviceId = alice.getDeviceId()!;
    const token = alice.getAccessToken()!;
    const device = await keyPair();
    const deviceKeyId = `ed25519:${deviceId}`;
    const deviceKeys = await sign(
      { user_id: aliceId, device_id: deviceId, algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"], keys: { [`curve25519:${deviceId}`]: device.publicKey, [deviceKeyId]: device.publicKey } },
      aliceId,
      deviceKeyId,
      device.seed,
    );
    const otk = await sign({ key: device.publicKey }, aliceId, deviceKeyId, device.seed);
    const upload = await api("POST", "/_matrix/client/v3/keys/upload", {
      token,
      body: { device_keys: deviceKeys, one_time_keys: { "signed_curve25519:AAAAAQ": otk }, fallback_keys: { "signed_curve25519:AAAAAg": { ...otk, fallback: true } } },
    });
    expect(upload.status).toBe(200);
    expect(upload.body).toEqual({ one_time_key_counts: { signed_curve25519: 1 } });

    const bobToken = bob.getAccessToken()!;
    const claim = await api("POST", "/_matrix/client/v3/keys/claim", { token: bobToken, body: { one_time_keys: { [aliceId]: { [deviceId]: "signed_curve25519" } } } });
    expect(claim.body["one_time_keys"]).toEqual({ [aliceId]: { [deviceId]: { "signed_curve25519:AAAAAQ": otk } } });

    const master = await keyPair();
    const selfSigning = await keyPair();
    const masterKey = { user_id: aliceId, usage: ["master"], keys: { [`ed25519:${master.publicKey}`]: master.publicKey } };
    const sskKey = await sign({ user_id: aliceId, usage: ["self_signing"], keys: { [`ed25519:${selfSigning.publicKey}`]: selfSigning.publicKey } }, aliceId, `ed25519:${master.publicKey}`, master.seed);
    expect((await api("POST", "/_matrix/client/v3/keys/device_signing/upload", { token, body: { master_key: masterKey, self_signing_key: sskKey } })).status).toBe(200);
    // Replacing keys needs the password (user-interactive auth; cross_signing.yaml does not list the 401 itself).
    const other = await keyPair();
    const challenge = await raw("POST", "/_matrix/client/v3/keys/device_signing/upload", {
      token,
      body: { master_key: { ...masterKey, keys: { [`ed25519:${other.publicKey}`]: other.publicKey } } },
    });
    expect(challenge.status).toBe(401);
    expect(challenge.body["flows"]).toEqual([{ stages: ["m.login.password"] }]);

    const signedDevice = await sign(deviceKeys, aliceId, `ed25519:${selfSigning.publicKey}`, selfSigning.seed);
    const sigs = await api("POST", "/_matrix/client/v3/keys/signatures/upload", { token, body: { [aliceId]: { [deviceId]: signedDevice } } });
    expect(sigs.body).toEqual({ failures: {} });

    const query = await api("POST", "/_matrix/client/v3/keys/query", { token: bobToken, body: { device_keys: { [aliceId]: [] } } });
    const seen = (query.body["device_keys"] as Record<string, Record<string, { signatures: Record<string, Record<string, string>> }>>)[aliceId]![deviceId]!;
    expect(Object.keys(seen.signatures[aliceId]!).sort()).toEqual([deviceKeyId, `ed25519:${selfSigning.publicKey}`].sort());
    expect(query.body["master_keys"]).toEqual({ [aliceId]: masterKey });

    const sync = await api("GET", "/_matrix/client/v3/sync?timeout=0", { token: bobToken });
    expect((await api("PUT", "/_matrix/client/v3/sendToDevice/m.test/t1", { token, body: { messages: { [bob.getUserId()!]: { "*": { hi: 1 } } } } })).status).toBe(200);
    const next = await api("GET", `/_matrix/client/v3/sync?timeout=0&since=${sync.body["next_batch"] as string}`, { token: bobToken });
    expect(next.body["to_device"]).toEqual({ events: [{ sender: aliceId, type: "m.test", content: { hi: 1 } }] });
    const changes = await api("GET", `/_matrix/client/v3/keys/changes?from=${sync.body["next_batch"] as string}&to=${next.body["next_batch"] as string}`, { token: bobToken });
    expect(changes.body).toEqual({ changed: [], left: [] });

    const version = await api("POST", "/_matrix/client/v3/room_keys/version", { token, body: { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: device.publicKey } } });
    const v = version.body["version"] as string;
    const key = { first_message_index: 0, forwarded_count: 0, is_verified: false, session_data: { ephemeral: "e", ciphertext: "c", mac: "m" } };
    const room = encodeURIComponent("!room:localhost");
    expect((await api("PUT", `/_matrix/client/v3/room_keys/keys/${room}/sess?version=${v}`, { token, body: key })).body).toEqual({ etag: "1", count: 1 });
    expect((await api("GET", `/_matrix/client/v3/room_keys/keys?version=${v}`, { token })).body).toEqual({ rooms: { "!room:localhost": { sessions: { sess: key } } } });
    expect((await api("GET", `/_matrix/client/v3/room_keys/keys/${room}?version=${v}`, { token })).body).toEqual({ sessions: { sess: key } });
    expect((await api("GET", `/_matrix/client/v3/room_keys/version/${v}`, { token })).body["count"]).toBe(1);
    expect((await api("DELETE", `/_matrix/client/v3/room_keys/keys/${room}/sess?version=${v}`, { token })).body["count"]).toBe(0);
    expect((await api("DELETE", `/_matrix/client/v3/room_keys/version/${v}`, { token })).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/room_keys/version", { token })).status).toBe(404);
  });
});
