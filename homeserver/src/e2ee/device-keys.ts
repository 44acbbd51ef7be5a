import { pokeDeviceListQueues } from "../appservice/encryption";
import { MatrixError, invalidParam } from "../http/errors";
import type { SignableJson } from "../rooms/signing";
import {
  type CrossSigningRow,
  devicesWithKeys,
  getCrossSigningKeys,
  getDeviceKeys,
  getDeviceListChanges,
  getSignatures,
  getUsersSharingRoomWith,
  listDeviceKeys,
  putDeviceKeys,
} from "../storage/e2ee-keys";
import { notifyUsers } from "../sync/notifier";
import type { DeviceKeys } from "./schemas";
import { hasValidSignature, signedPart, withSignatures } from "./signed-json";
import { type ClaimRequest, type KeyCounts, type KeyValue, userKeys } from "./user-keys";

export const invalidSignature = (msg: string) => new MatrixError(400, "M_INVALID_SIGNATURE", msg);

/** The server part of a user id (`@a:example.org:8448` -> `example.org:8448`). */
export function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(":") + 1);
}

/**
 * Wakes the syncs of everyone who tracks `userId`'s devices after a change committed at `position`, and the queues
 * of encrypting appservices (MSC3202 device lists).
 */
export async function announceDeviceListChange(env: Env, userId: string, position: number | null): Promise<void> {
  if (position === null) return;
  await Promise.all([notifyUsers(env, await getUsersSharingRoomWith(env.DB, userId), position, "shared"), pokeDeviceListQueues(env)]);
}

export interface KeyUpload {
  device_keys?: DeviceKeys | undefined;
  one_time_keys?: Record<string, KeyValue> | undefined;
  fallback_keys?: Record<string, KeyValue> | undefined;
}

/**
 * POST /keys/upload for `deviceId` of `userId` (the requester's device, or a dehydrated device it creates): checks
 * and stores the device keys, then hands one-time and fallback keys to the user's UserKeys object.
 */
export async function uploadKeys(env: Env, userId: string, deviceId: string, upload: KeyUpload, ctx?: { waitUntil(promise: Promise<unknown>): void }): Promise<KeyCounts> {
  // Everything is checked before anything is stored.
  for (const [keyId, value] of Object.entries(upload.one_time_keys ?? {})) checkKeyShape("one_time_keys", keyId, value);
  for (const [keyId, value] of Object.entries(upload.fallback_keys ?? {})) checkKeyShape("fallback_keys", keyId, value);
  let liveDevices: string[] | undefined;
  if (upload.device_keys) {
    const keys = upload.device_keys;
    if (keys.user_id !== userId || keys.device_id !== deviceId) {
      throw invalidParam(`device_keys must be for ${userId} device ${deviceId}`);
    }
    const stored = stripUnsigned(keys);
    const existing = await getDeviceKeys(env.DB, userId, deviceId);
    if (existing === null) {
      await checkSelfSignature(keys);
      const position = await putDeviceKeys(env.DB, userId, deviceId, JSON.stringify(stored));
      liveDevices = [...(await devicesWithKeys(env.DB, userId))];
      const wake = announceDeviceListChange(env, userId, position);
      if (ctx) ctx.waitUntil(wake);
      else await wake;
    } else if (signedPart(JSON.parse(existing) as SignableJson) !== signedPart(stored)) {
      throw invalidParam("This device already has different keys; sign in as a new device to use new keys");
    }
  }
  const result = await userKeys(env, userId).upload(deviceId, upload.one_time_keys ?? {}, upload.fallback_keys ?? {}, liveDevices);
  if (!result.ok) throw invalidParam(result.error);
  return result.counts;
}

/** The device's own ed25519 key must sign its device keys. */
async function checkSelfSignature(keys: DeviceKeys): Promise<void> {
  const keyId = `ed25519:${keys.device_id}`;
  const publicKey = keys.keys[keyId];
  if (publicKey === undefined) throw invalidParam(`device_keys.keys has no ${keyId}`);
  if (!(await hasValidSignature(keys, keys.user_id, keyId, publicKey))) {
    throw invalidSignature("device_keys are not signed by the device's own ed25519 key");
  }
}

/** `signed_curve25519` keys are signed objects; only the deprecated plain `curve25519` may be a bare string. */
function checkKeyShape(field: string, keyId: string, value: KeyValue): void {
  const algorithm = keyId.slice(0, keyId.indexOf(":"));
  if (algorithm === "signed_curve25519" && typeof value === "string") {
    throw new MatrixError(400, "M_BAD_JSON", `${field}.${keyId}: a signed_curve25519 key must be an object with key and signatures`);
  }
}

function stripUnsigned<T extends Record<string, unknown>>(obj: T): Omit<T, "unsigned"> {
  const { unsigned: _unsigned, ...rest } = obj;
  return rest;
}

export interface KeysQueryResult {
  device_keys: Record<string, Record<string, SignableJson>>;
  master_keys: Record<string, SignableJson>;
  self_signing_keys: Record<string, SignableJson>;
  user_signing_keys: Record<string, SignableJson>;
  failures: Record<string, Record<string, unknown>>;
}

/**
 * POST /keys/query: device keys (with display names and signatures by the owner's self-signing key) and
 * cross-signing keys of local users. A master key shows the signatures of its owner and of the requester (their
 * user-signing key), not anyone else's; a user-signing key is shown only to its owner.
 */
export async function queryKeys(db: D1Database, requester: string, serverName: string, wanted: Record<string, string[]>): Promise<KeysQueryResult> {
  const result: KeysQueryResult = { device_keys: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {}, failures: {} };
  await Promise.all(
    Object.entries(wanted).map(async ([userId, deviceIds]) => {
      const server = serverOf(userId);
      if (server !== serverName) {
        result.failures[server] = { status: 503, message: "This server does not federate" };
        return;
      }
      const [devices, crossSigning, signatures] = await Promise.all([
        listDeviceKeys(db, userId, deviceIds.length > 0 ? deviceIds : undefined),
        getCrossSigningKeys(db, userId),
        getSignatures(db, userId),
      ]);
      const extra = (targetKeyId: string, signers: (s: string) => boolean) =>
        signatures
          .filter((s) => s.target_key_id === targetKeyId && signers(s.signer_user_id))
          .map((s) => ({ userId: s.signer_user_id, keyId: s.signer_key_id, signature: s.signature }));
      const byDevice: Record<string, SignableJson> = {};
      for (const row of devices) {
        const keys = withSignatures(JSON.parse(row.key_json) as SignableJson, extra(row.device_id, (s) => s === userId));
        byDevice[row.device_id] = row.display_name === null ? keys : { ...keys, unsigned: { device_display_name: row.display_name } };
      }
      result.device_keys[userId] = byDevice;
      for (const row of crossSigning) {
        const key = JSON.parse(row.key_json) as SignableJson;
        const publicKey = row.key_id.slice("ed25519:".length);
        if (row.usage === "master") result.master_keys[userId] = withSignatures(key, extra(publicKey, (s) => s === userId || s === requester));
        else if (row.usage === "self_signing") result.self_signing_keys[userId] = key;
        else if (row.usage === "user_signing" && userId === requester) result.user_signing_keys[userId] = key;
      }
    }),
  );
  return result;
}

/** POST /keys/claim: one key per requested device, from each local user's UserKeys object. */
export async function claimKeys(
  env: Env,
  serverName: string,
  wanted: Record<string, Record<string, string>>,
): Promise<{ one_time_keys: Record<string, Record<string, Record<string, KeyValue>>>; failures: Record<string, Record<string, unknown>> }> {
  const one_time_keys: Record<string, Record<string, Record<string, KeyValue>>> = {};
  const failures: Record<string, Record<string, unknown>> = {};
  await Promise.all(
    Object.entries(wanted).map(async ([userId, devices]) => {
      const server = serverOf(userId);
      if (server !== serverName) {
        failures[server] = { status: 503, message: "This server does not federate" };
        return;
      }
      // Only devices that still exist (have keys): a signed-out device's leftovers are never handed out.
      const known = await devicesWithKeys(env.DB, userId);
      const requests: ClaimRequest[] = Object.entries(devices)
        .filter(([deviceId]) => known.has(deviceId))
        .map(([deviceId, algorithm]) => ({ deviceId, algorithm }));
      if (requests.length === 0) return;
      const claimed = await userKeys(env, userId).claim(requests);
      if (Object.keys(claimed).length > 0) one_time_keys[userId] = claimed;
    }),
  );
  return { one_time_keys, failures };
}

/** The cross-signing keys of a user by usage. */
export async function crossSigningKeysOf(db: D1Database, userId: string): Promise<Map<string, CrossSigningRow>> {
  return new Map((await getCrossSigningKeys(db, userId)).map((r) => [r.usage, r]));
}

/** GET /keys/changes and /sync's device_lists: whose device lists changed, and who no longer shares a room. */
export function deviceListChanges(
  db: D1Database,
  userId: string,
  from: { events: number; shared: number },
  to: { events: number; shared: number },
): Promise<{ changed: string[]; left: string[] }> {
  return getDeviceListChanges(db, userId, from, to);
}
