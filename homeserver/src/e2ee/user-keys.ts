import { DurableObject } from "cloudflare:workers";

/**
 * One per user: that user's one-time and fallback keys. Uploads and claims are RPC calls on this object, whose
 * SQLite calls are synchronous, so each call runs start to finish without interleaving: two concurrent claims can
 * never hand out the same one-time key, and a claim never sees half an upload.
 *
 * Key ids are `<algorithm>:<key id>`; values are kept as the JSON the device uploaded (a signed object, or a bare
 * string for the deprecated unsigned `curve25519`).
 */

/** An uploaded one-time or fallback key: a bare key string or a signed key object. */
export type KeyValue = string | Record<string, unknown>;

export interface KeyCounts {
  one_time_key_counts: Record<string, number>;
  unused_fallback_key_types: string[];
}

export type UploadResult = { ok: true; counts: KeyCounts } | { ok: false; error: string };

export interface ClaimRequest {
  deviceId: string;
  algorithm: string;
}

/** deviceId -> `algorithm:keyId` -> key, for each device that had a key (one-time, else fallback). */
export type ClaimResult = Record<string, Record<string, KeyValue>>;

const SCHEMA_VERSION = 1;
/** How long a device that is no longer listed must have been silent before its keys are collected. */
const GONE_DEVICE_QUIET_MS = 60 * 60 * 1000;

export class UserKeys extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const current = this.sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0;
    if (current >= SCHEMA_VERSION) return;
    this.sql.exec(`
      CREATE TABLE one_time_keys (
        device_id TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_json TEXT NOT NULL,
        PRIMARY KEY (device_id, algorithm, key_id)
      );
      CREATE TABLE fallback_keys (
        device_id TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_json TEXT NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, algorithm)
      );
      -- When each device last uploaded, so keys of signed-out devices can be collected without racing a new device.
      CREATE TABLE device_uploads (
        device_id TEXT PRIMARY KEY,
        last_upload_ts INTEGER NOT NULL
      );
      DELETE FROM schema_version;
    `);
    this.sql.exec("INSERT INTO schema_version (version) VALUES (?)", SCHEMA_VERSION);
  }

  /**
   * Stores one-time keys (an existing key id with different content is refused, the same content is a no-op, as a
   * retried upload must be) and replaces fallback keys per algorithm. All or nothing.
   *
   * A new device (`liveDevices` given: it just published its identity keys) first drops keys left by an earlier
   * device of the same id, and collects the keys of devices that are gone (not in `liveDevices`, the user's devices
   * with identity keys) and quiet for an hour: the quiet period keeps a device that is signing in right now.
   */
  upload(deviceId: string, oneTimeKeys: Record<string, KeyValue>, fallbackKeys: Record<string, KeyValue>, liveDevices?: string[]): UploadResult {
    const now = Date.now();
    try {
      this.ctx.storage.transactionSync(() => {
        if (liveDevices) {
          this.forget(deviceId);
          const live = new Set(liveDevices);
          const stale = this.sql
            .exec<{ device_id: string }>("SELECT device_id FROM device_uploads WHERE last_upload_ts < ?", now - GONE_DEVICE_QUIET_MS)
            .toArray()
            .filter((r) => !live.has(r.device_id));
          for (const { device_id } of stale) this.forget(device_id);
        }
        this.sql.exec("INSERT OR REPLACE INTO device_uploads (device_id, last_upload_ts) VALUES (?, ?)", deviceId, now);
        for (const [fullId, value] of Object.entries(oneTimeKeys)) {
          const { algorithm, keyId } = splitKeyId(fullId);
          const json = JSON.stringify(value);
          const existing = this.sql
            .exec<{ key_json: string }>("SELECT key_json FROM one_time_keys WHERE device_id = ? AND algorithm = ? AND key_id = ?", deviceId, algorithm, keyId)
            .toArray()[0];
          if (existing && existing.key_json !== json) throw new KeyConflict(`One-time key ${fullId} already exists with different content`);
          if (!existing) this.sql.exec("INSERT INTO one_time_keys (device_id, algorithm, key_id, key_json) VALUES (?, ?, ?, ?)", deviceId, algorithm, keyId, json);
        }
        for (const [fullId, value] of Object.entries(fallbackKeys)) {
          const { algorithm, keyId } = splitKeyId(fullId);
          const json = JSON.stringify(value);
          // Re-uploading the fallback key in use keeps its used flag; a new one starts unused.
          this.sql.exec(
            `INSERT INTO fallback_keys (device_id, algorithm, key_id, key_json, used) VALUES (?1, ?2, ?3, ?4, 0)
             ON CONFLICT (device_id, algorithm) DO UPDATE SET
               used = CASE WHEN key_id = ?3 AND key_json = ?4 THEN used ELSE 0 END, key_id = ?3, key_json = ?4`,
            deviceId,
            algorithm,
            keyId,
            json,
          );
        }
      });
    } catch (e) {
      if (e instanceof KeyConflict) return { ok: false, error: e.message };
      throw e;
    }
    return { ok: true, counts: this.counts(deviceId) };
  }

  /** Takes one key per request: a one-time key (removed), else the device's fallback key (kept, marked used). */
  claim(requests: ClaimRequest[]): ClaimResult {
    const result: ClaimResult = {};
    this.ctx.storage.transactionSync(() => {
      for (const { deviceId, algorithm } of requests) {
        const otk = this.sql
          .exec<{ key_id: string; key_json: string }>(
            "SELECT key_id, key_json FROM one_time_keys WHERE device_id = ? AND algorithm = ? ORDER BY key_id LIMIT 1",
            deviceId,
            algorithm,
          )
          .toArray()[0];
        if (otk) {
          this.sql.exec("DELETE FROM one_time_keys WHERE device_id = ? AND algorithm = ? AND key_id = ?", deviceId, algorithm, otk.key_id);
          (result[deviceId] ??= {})[`${algorithm}:${otk.key_id}`] = JSON.parse(otk.key_json) as KeyValue;
          continue;
        }
        const fallback = this.sql
          .exec<{ key_id: string; key_json: string }>("SELECT key_id, key_json FROM fallback_keys WHERE device_id = ? AND algorithm = ?", deviceId, algorithm)
          .toArray()[0];
        if (fallback) {
          this.sql.exec("UPDATE fallback_keys SET used = 1 WHERE device_id = ? AND algorithm = ?", deviceId, algorithm);
          (result[deviceId] ??= {})[`${algorithm}:${fallback.key_id}`] = JSON.parse(fallback.key_json) as KeyValue;
        }
      }
    });
    return result;
  }

  /** What /keys/upload and /sync report: unclaimed one-time keys per algorithm, and fallback key types not yet used. */
  counts(deviceId: string): KeyCounts {
    // signed_curve25519 is always reported, 0 included: clients top up when it runs low, and an absent count is not low.
    const one_time_key_counts: Record<string, number> = { signed_curve25519: 0 };
    for (const row of this.sql.exec<{ algorithm: string; n: number }>(
      "SELECT algorithm, COUNT(*) AS n FROM one_time_keys WHERE device_id = ? GROUP BY algorithm",
      deviceId,
    )) {
      one_time_key_counts[row.algorithm] = row.n;
    }
    const unused_fallback_key_types = this.sql
      .exec<{ algorithm: string }>("SELECT algorithm FROM fallback_keys WHERE device_id = ? AND used = 0 ORDER BY algorithm", deviceId)
      .toArray()
      .map((r) => r.algorithm);
    return { one_time_key_counts, unused_fallback_key_types };
  }

  /** `counts` of several devices at once (an appservice's transaction reports every device of its users). */
  countsOf(deviceIds: string[]): Record<string, KeyCounts> {
    return Object.fromEntries(deviceIds.map((deviceId) => [deviceId, this.counts(deviceId)]));
  }

  /** Drops every key of the devices (signed out or replaced). */
  forgetDevices(deviceIds: string[]): void {
    this.ctx.storage.transactionSync(() => {
      for (const deviceId of deviceIds) this.forget(deviceId);
    });
  }

  private forget(deviceId: string): void {
    this.sql.exec("DELETE FROM one_time_keys WHERE device_id = ?", deviceId);
    this.sql.exec("DELETE FROM fallback_keys WHERE device_id = ?", deviceId);
    this.sql.exec("DELETE FROM device_uploads WHERE device_id = ?", deviceId);
  }
}

class KeyConflict extends Error {}

/** `signed_curve25519:AAAAHQ` -> algorithm and key id (ids are validated at the API boundary). */
function splitKeyId(fullId: string): { algorithm: string; keyId: string } {
  const colon = fullId.indexOf(":");
  return { algorithm: fullId.slice(0, colon), keyId: fullId.slice(colon + 1) };
}

/** The UserKeys object of one user. */
export function userKeys(env: Env, userId: string): DurableObjectStub<UserKeys> {
  return env.USER_KEYS.get(env.USER_KEYS.idFromName(userId));
}
