import { NEXT_POSITION, commitAtNextPosition } from "./stream-positions";

/** Device keys, cross-signing keys, signatures and device list changes (migrations/0006). */

export interface DeviceKeysRow {
  user_id: string;
  device_id: string;
  key_json: string;
  display_name: string | null;
}

export interface CrossSigningRow {
  user_id: string;
  usage: string;
  key_id: string;
  key_json: string;
}

export interface SignatureRow {
  target_user_id: string;
  target_key_id: string;
  signer_user_id: string;
  signer_key_id: string;
  signature: string;
}

/** Marks `userId`'s device list changed at the position taken by the batch's bump (which must come first). */
function deviceListChanged(db: D1Database, userId: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO device_list_changes (user_id, stream_id) VALUES (?, ${NEXT_POSITION})
       ON CONFLICT (user_id) DO UPDATE SET stream_id = excluded.stream_id`,
    )
    .bind(userId);
}

export async function getDeviceKeys(db: D1Database, userId: string, deviceId: string): Promise<string | null> {
  return db.prepare("SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first<string>("key_json");
}

/** Stores a device's keys and marks its owner's device list changed; returns the position taken. */
export async function putDeviceKeys(db: D1Database, userId: string, deviceId: string, keyJson: string): Promise<number | null> {
  return commitAtNextPosition(db, [
    db.prepare("INSERT OR REPLACE INTO e2e_device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)").bind(userId, deviceId, keyJson),
    deviceListChanged(db, userId),
  ]);
}

/** The device keys of the users' devices (every device when `deviceIds` is absent), with display names. */
export async function listDeviceKeys(db: D1Database, userId: string, deviceIds?: string[]): Promise<DeviceKeysRow[]> {
  const rows = await db
    .prepare(
      `SELECT k.user_id, k.device_id, k.key_json, d.display_name FROM e2e_device_keys k
       LEFT JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
       WHERE k.user_id = ? ORDER BY k.device_id`,
    )
    .bind(userId)
    .all<DeviceKeysRow>();
  return deviceIds === undefined ? rows.results : rows.results.filter((r) => deviceIds.includes(r.device_id));
}

/** The ids of the user's devices that have published identity keys. */
export async function devicesWithKeys(db: D1Database, userId: string): Promise<Set<string>> {
  const rows = await db.prepare("SELECT device_id FROM e2e_device_keys WHERE user_id = ?").bind(userId).all<{ device_id: string }>();
  return new Set(rows.results.map((r) => r.device_id));
}

export async function getCrossSigningKeys(db: D1Database, userId: string): Promise<CrossSigningRow[]> {
  const rows = await db.prepare("SELECT * FROM e2e_cross_signing_keys WHERE user_id = ?").bind(userId).all<CrossSigningRow>();
  return rows.results;
}

/** Replaces some of a user's cross-signing keys and marks their device list changed, in one transaction. */
export async function putCrossSigningKeys(
  db: D1Database,
  userId: string,
  keys: { usage: string; keyId: string; keyJson: string }[],
): Promise<number | null> {
  return commitAtNextPosition(db, [
    ...keys.map((k) =>
      db
        .prepare("INSERT OR REPLACE INTO e2e_cross_signing_keys (user_id, usage, key_id, key_json) VALUES (?, ?, ?, ?)")
        .bind(userId, k.usage, k.keyId, k.keyJson),
    ),
    deviceListChanged(db, userId),
  ]);
}

/** Signatures on the targets' keys, by any signer. */
export async function getSignatures(db: D1Database, targetUserId: string): Promise<SignatureRow[]> {
  const rows = await db.prepare("SELECT * FROM e2e_key_signatures WHERE target_user_id = ?").bind(targetUserId).all<SignatureRow>();
  return rows.results;
}

/** Stores signatures and marks each target's device list changed (their keys now carry a new signature). */
export async function putSignatures(db: D1Database, signatures: SignatureRow[]): Promise<number | null> {
  if (signatures.length === 0) return null;
  const targets = [...new Set(signatures.map((s) => s.target_user_id))];
  return commitAtNextPosition(db, [
    ...signatures.map((s) =>
      db
        .prepare("INSERT OR REPLACE INTO e2e_key_signatures VALUES (?, ?, ?, ?, ?)")
        .bind(s.target_user_id, s.target_key_id, s.signer_user_id, s.signer_key_id, s.signature),
    ),
    ...targets.map((t) => deviceListChanged(db, t)),
  ]);
}

/**
 * Statements that remove signed-out devices' keys, pending to-device messages, signatures and dehydrated-device
 * record, and mark the device
 * list changed; for storage/devices.ts deleteDevices to run in its own batch. The bump comes before its use.
 */
export function deviceKeysDeletionStatements(db: D1Database, userId: string, deviceIds: string[] | "all"): D1PreparedStatement[] {
  if (deviceIds !== "all" && deviceIds.length === 0) return [];
  const statements: D1PreparedStatement[] = [];
  const tables = [
    ["e2e_device_keys", "user_id", "device_id"],
    ["dehydrated_devices", "user_id", "device_id"],
    ["to_device_messages", "user_id", "device_id"],
    ["e2e_key_signatures", "target_user_id", "target_key_id"],
  ] as const;
  for (const [table, userColumn, deviceColumn] of tables) {
    if (deviceIds === "all") statements.push(db.prepare(`DELETE FROM ${table} WHERE ${userColumn} = ?`).bind(userId));
    else {
      for (const deviceId of deviceIds) {
        statements.push(db.prepare(`DELETE FROM ${table} WHERE ${userColumn} = ? AND ${deviceColumn} = ?`).bind(userId, deviceId));
      }
    }
  }
  statements.push(db.prepare("UPDATE stream_positions SET position = position + 1 WHERE stream = 'shared'"), deviceListChanged(db, userId));
  return statements;
}

/** Users who share a room with `userId` now (joined or invited where `userId` is joined), and `userId`. */
const SHARED_USERS = `
  SELECT ?1 AS user_id UNION
  SELECT b.state_key FROM current_state a
  JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership IN ('join', 'invite')
  WHERE a.type = 'm.room.member' AND a.state_key = ?1 AND a.membership = 'join'`;

/**
 * Device list changes `userId` must hear about between two positions: `changed` holds users sharing a room whose
 * keys changed in (since.shared, upTo.shared], and users who became members of a shared room (or whose room the user
 * joined) in (since.events, upTo.events], since the client has never fetched their keys; `left` holds users who no
 * longer share any room after a membership change in that window.
 */
export async function getDeviceListChanges(
  db: D1Database,
  userId: string,
  since: { events: number; shared: number },
  upTo: { events: number; shared: number },
): Promise<{ changed: string[]; left: string[] }> {
  const [keyChanges, newMembers, left] = await db.batch<{ user_id: string }>([
    db
      .prepare(`SELECT user_id FROM device_list_changes WHERE stream_id > ?2 AND stream_id <= ?3 AND user_id IN (${SHARED_USERS})`)
      .bind(userId, since.shared, upTo.shared),
    db
      .prepare(
        `SELECT DISTINCT b.state_key AS user_id FROM current_state a
         JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership IN ('join', 'invite')
         WHERE a.type = 'm.room.member' AND a.state_key = ?1 AND a.membership = 'join'
           AND ((b.stream_ordering > ?2 AND b.stream_ordering <= ?3) OR (a.stream_ordering > ?2 AND a.stream_ordering <= ?3))`,
      )
      .bind(userId, since.events, upTo.events),
    db
      .prepare(
        `SELECT DISTINCT b.state_key AS user_id FROM current_state a
         JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member'
         WHERE a.type = 'm.room.member' AND a.state_key = ?1
           AND ((b.stream_ordering > ?2 AND b.stream_ordering <= ?3) OR (a.membership != 'join' AND a.stream_ordering > ?2 AND a.stream_ordering <= ?3))
           AND b.state_key NOT IN (${SHARED_USERS})`,
      )
      .bind(userId, since.events, upTo.events),
  ]);
  const changed = new Set([...keyChanges!.results, ...newMembers!.results].map((r) => r.user_id));
  return { changed: [...changed].sort(), left: left!.results.map((r) => r.user_id).filter((u) => !changed.has(u)).sort() };
}

/**
 * Device list changes after shared-stream position `after`, oldest first, at most `limit`, each with the users who
 * share a room with the changed user (and the user): what an appservice needs to tell whether it tracks them.
 */
export async function getDeviceListChangesAfter(
  db: D1Database,
  after: number,
  limit: number,
): Promise<{ userId: string; position: number; sharing: string[] }[]> {
  const changes = await db
    .prepare("SELECT user_id, stream_id FROM device_list_changes WHERE stream_id > ? ORDER BY stream_id LIMIT ?")
    .bind(after, limit)
    .all<{ user_id: string; stream_id: number }>();
  if (changes.results.length === 0) return [];
  const sharing = await db.batch<{ user_id: string }>(changes.results.map((r) => db.prepare(SHARED_USERS).bind(r.user_id)));
  return changes.results.map((r, i) => ({ userId: r.user_id, position: r.stream_id, sharing: sharing[i]!.results.map((s) => s.user_id) }));
}

/** Users who share a room with `userId` (and `userId`): whom a change to their device list concerns. */
export async function getUsersSharingRoomWith(db: D1Database, userId: string): Promise<string[]> {
  const rows = await db.prepare(SHARED_USERS).bind(userId).all<{ user_id: string }>();
  return rows.results.map((r) => r.user_id);
}
