import { type SigningKey, generateSigningKey } from "../rooms/signing";
import { decodeBase64, encodeBase64 } from "../util/base64";

/** Cached per isolate: the key never changes once made. */
let cached: Promise<SigningKey> | undefined;

/**
 * The server's ed25519 signing key. Generated once, on first use, and kept in D1; concurrent first uses agree on
 * one key because the insert only succeeds when the table is empty.
 */
export function serverSigningKey(db: D1Database): Promise<SigningKey> {
  cached ??= loadOrCreate(db).catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function loadOrCreate(db: D1Database): Promise<SigningKey> {
  const existing = await firstKey(db);
  if (existing) return existing;
  const fresh = generateSigningKey();
  await db
    .prepare(
      "INSERT INTO server_signing_keys (key_id, seed, created_ts) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM server_signing_keys)",
    )
    .bind(fresh.keyId, encodeBase64(fresh.seed), Date.now())
    .run();
  const key = await firstKey(db);
  if (!key) throw new Error("server signing key could not be stored");
  return key;
}

async function firstKey(db: D1Database): Promise<SigningKey | null> {
  const row = await db
    .prepare("SELECT key_id, seed FROM server_signing_keys ORDER BY created_ts LIMIT 1")
    .first<{ key_id: string; seed: string }>();
  return row ? { keyId: row.key_id, seed: decodeBase64(row.seed) } : null;
}
