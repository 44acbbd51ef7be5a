import { z } from "zod";

/** Shapes of the key objects the end-to-end encryption module exchanges (Client-Server API, keys.yaml). */

/** Most one-time keys (and fallback keys) accepted in one upload; a client keeps ~50 and tops up in small batches. */
export const MAX_KEYS_PER_UPLOAD = 1000;

/** `signatures`: user id -> `algorithm:key id` -> unpadded base64 signature. */
export const Signatures = z.record(z.string().max(255), z.record(z.string().max(255), z.string().max(1024)));

/** `algorithm:id`, as one-time key ids, device key ids and signing key ids are written. */
export const ALGORITHM_KEY_ID = /^[A-Za-z0-9_.-]{1,100}:[A-Za-z0-9+/=_.-]{1,255}$/;

export const DeviceKeys = z.looseObject({
  user_id: z.string().max(255),
  device_id: z.string().min(1).max(255),
  algorithms: z.array(z.string().max(255)).max(50),
  keys: z.record(z.string().regex(ALGORITHM_KEY_ID, "must be algorithm:key_id"), z.string().max(1024)),
  signatures: Signatures,
});
export type DeviceKeys = z.infer<typeof DeviceKeys>;

/** A one-time or fallback key: a signed key object, or the deprecated bare key string. */
export const KeyObject = z.union([
  z.string().max(1024),
  z.looseObject({ key: z.string().max(1024), fallback: z.boolean().optional(), signatures: Signatures }),
]);

/** A map of `algorithm:id` to key, counted before its entries are parsed so 10,000 keys fail fast with a clear message. */
export const KeyMap = z
  .record(z.string(), z.unknown())
  .refine((keys) => Object.keys(keys).length <= MAX_KEYS_PER_UPLOAD, `at most ${MAX_KEYS_PER_UPLOAD} keys per request`)
  .pipe(z.record(z.string().regex(ALGORITHM_KEY_ID, "key ids must be algorithm:key_id"), KeyObject));

export const CrossSigningKey = z.looseObject({
  user_id: z.string().max(255),
  usage: z.array(z.string().max(64)).min(1).max(10),
  keys: z.record(z.string().regex(ALGORITHM_KEY_ID, "must be algorithm:key_id"), z.string().max(1024)),
  signatures: Signatures.optional(),
});
export type CrossSigningKey = z.infer<typeof CrossSigningKey>;

export type CrossSigningUsage = "master" | "self_signing" | "user_signing";
