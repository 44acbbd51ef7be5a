import { invalidParam } from "../http/errors";
import type { SignableJson } from "../rooms/signing";
import { type SignatureRow, getDeviceKeys, putCrossSigningKeys, putSignatures } from "../storage/e2ee-keys";
import { announceDeviceListChange, crossSigningKeysOf, invalidSignature } from "./device-keys";
import type { CrossSigningKey, CrossSigningUsage } from "./schemas";
import { hasValidSignature, signedPart, wholeForm } from "./signed-json";

export interface CrossSigningUpload {
  master_key?: CrossSigningKey | undefined;
  self_signing_key?: CrossSigningKey | undefined;
  user_signing_key?: CrossSigningKey | undefined;
}

const FIELDS: [keyof CrossSigningUpload, CrossSigningUsage][] = [
  ["master_key", "master"],
  ["self_signing_key", "self_signing"],
  ["user_signing_key", "user_signing"],
];

/** A cross-signing key holds exactly one ed25519 key, named by its own public key. */
function publicKeyOf(key: CrossSigningKey, field: string): { keyId: string; publicKey: string } {
  const entries = Object.entries(key.keys);
  const [keyId, publicKey] = entries[0] ?? [];
  if (entries.length !== 1 || keyId === undefined || publicKey === undefined || keyId !== `ed25519:${publicKey}`) {
    throw invalidParam(`${field}.keys must hold exactly one key, ed25519:<public key>`);
  }
  return { keyId, publicKey };
}

/**
 * Whether an upload needs user-interactive auth: not when the user has no master key yet (MSC3967, what Element's
 * first bootstrap relies on), nor when it re-uploads exactly the keys already stored (a retried bootstrap).
 */
export async function crossSigningUploadNeedsAuth(db: D1Database, userId: string, upload: CrossSigningUpload): Promise<boolean> {
  const existing = await crossSigningKeysOf(db, userId);
  if (!existing.has("master")) return false;
  return FIELDS.some(([field, usage]) => {
    const key = upload[field];
    const stored = existing.get(usage);
    return key !== undefined && (stored === undefined || wholeForm(JSON.parse(stored.key_json) as SignableJson) !== wholeForm(key));
  });
}

/** POST /keys/device_signing/upload, after auth: checks the keys and that the master key signs the other two. */
export async function uploadCrossSigningKeys(env: Env, userId: string, upload: CrossSigningUpload): Promise<void> {
  const existing = await crossSigningKeysOf(env.DB, userId);
  const toStore: { usage: string; keyId: string; keyJson: string }[] = [];
  let master: { keyId: string; publicKey: string } | undefined;
  const existingMaster = existing.get("master");
  if (upload.master_key) master = publicKeyOf(upload.master_key, "master_key");
  else if (existingMaster) master = { keyId: existingMaster.key_id, publicKey: existingMaster.key_id.slice("ed25519:".length) };

  for (const [field, usage] of FIELDS) {
    const key = upload[field];
    if (!key) continue;
    if (key.user_id !== userId) throw invalidParam(`${field}.user_id must be ${userId}`);
    if (!key.usage.includes(usage)) throw invalidParam(`${field}.usage must include ${usage}`);
    const { keyId } = publicKeyOf(key, field);
    if (usage !== "master") {
      if (!master) throw invalidParam(`Upload a master key before (or with) the ${field}`);
      if (!(await hasValidSignature(key, userId, master.keyId, master.publicKey))) {
        throw invalidSignature(`${field} is not signed by the master key`);
      }
    }
    toStore.push({ usage, keyId, keyJson: JSON.stringify(key) });
  }
  const oldSelfSigning = existing.get("self_signing");
  if (master && upload.master_key && !upload.self_signing_key && oldSelfSigning) {
    // A new master key would orphan the old self-signing key; clients upload all three together, as they should.
    const stored = JSON.parse(oldSelfSigning.key_json) as SignableJson;
    if (!(await hasValidSignature(stored, userId, master.keyId, master.publicKey))) {
      throw invalidParam("A new master_key must come with a self_signing_key it signs");
    }
  }
  if (toStore.length === 0) return;
  await announceDeviceListChange(env, userId, await putCrossSigningKeys(env.DB, userId, toStore));
}

export type SignatureFailures = Record<string, Record<string, { errcode: string; error: string }>>;

/**
 * POST /keys/signatures/upload: each object is one of the requester's device keys signed by their self-signing
 * key, their master key signed by one of their devices, or another user's master key signed by the requester's
 * user-signing key. The object must be the stored key (apart from signatures) and the new signature must verify.
 */
export async function uploadSignatures(
  env: Env,
  requester: string,
  body: Record<string, Record<string, SignableJson>>,
): Promise<{ failures: SignatureFailures }> {
  const failures: SignatureFailures = {};
  const fail = (userId: string, keyId: string, errcode: string, error: string) => {
    (failures[userId] ??= {})[keyId] = { errcode, error };
  };
  const mine = await crossSigningKeysOf(env.DB, requester);
  const accepted: SignatureRow[] = [];

  for (const [userId, objects] of Object.entries(body)) {
    const theirs = userId === requester ? mine : await crossSigningKeysOf(env.DB, userId);
    for (const [targetKeyId, obj] of Object.entries(objects)) {
      const newSignatures = Object.entries(obj.signatures?.[requester] ?? {});
      const masterRow = theirs.get("master");
      const isMaster = masterRow !== undefined && masterRow.key_id === `ed25519:${targetKeyId}`;
      const deviceJson = userId === requester && !isMaster ? await getDeviceKeys(env.DB, userId, targetKeyId) : null;
      const storedJson = isMaster ? masterRow.key_json : deviceJson;
      if (storedJson === null) {
        fail(userId, targetKeyId, "M_NOT_FOUND", userId === requester ? "No such device or master key" : "Only another user's master key can be signed");
        continue;
      }
      if (signedPart(JSON.parse(storedJson) as SignableJson) !== signedPart(obj)) {
        fail(userId, targetKeyId, "M_INVALID_PARAM", "The signed object is not the stored key");
        continue;
      }
      // Which of the requester's keys may sign this target.
      const signers = new Map<string, string>();
      if (isMaster && userId === requester) {
        for (const [keyId] of newSignatures) {
          const deviceId = keyId.startsWith("ed25519:") ? keyId.slice("ed25519:".length) : null;
          const device = deviceId === null ? null : await getDeviceKeys(env.DB, requester, deviceId);
          const publicKey = device === null ? undefined : (JSON.parse(device) as { keys?: Record<string, string> }).keys?.[keyId];
          if (publicKey !== undefined) signers.set(keyId, publicKey);
        }
      } else {
        const signer = mine.get(isMaster ? "user_signing" : "self_signing");
        if (signer) signers.set(signer.key_id, signer.key_id.slice("ed25519:".length));
      }
      let ok = false;
      for (const [keyId, publicKey] of signers) {
        const signature = obj.signatures?.[requester]?.[keyId];
        if (signature === undefined || !(await hasValidSignature(obj, requester, keyId, publicKey))) continue;
        accepted.push({ target_user_id: userId, target_key_id: targetKeyId, signer_user_id: requester, signer_key_id: keyId, signature });
        ok = true;
      }
      if (!ok) fail(userId, targetKeyId, "M_INVALID_SIGNATURE", "No valid signature by a key of yours that may sign this key");
    }
  }
  const position = await putSignatures(env.DB, accepted);
  for (const target of new Set(accepted.map((s) => s.target_user_id))) await announceDeviceListChange(env, target, position);
  return { failures };
}
