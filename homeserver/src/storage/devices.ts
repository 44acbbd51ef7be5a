import { deviceKeysDeletionStatements } from "./e2ee-keys";

export interface DeviceRow {
  user_id: string;
  device_id: string;
  display_name: string | null;
  created_ts: number;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
}

export function listDevices(db: D1Database, userId: string): Promise<DeviceRow[]> {
  return db
    .prepare("SELECT * FROM devices WHERE user_id = ? ORDER BY created_ts, device_id")
    .bind(userId)
    .all<DeviceRow>()
    .then((r) => r.results);
}

export function getDevice(db: D1Database, userId: string, deviceId: string): Promise<DeviceRow | null> {
  return db.prepare("SELECT * FROM devices WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first<DeviceRow>();
}

/** Creates the device, or keeps an existing one (its display name is only set when given). */
export function upsertDeviceStatement(
  db: D1Database,
  device: { userId: string; deviceId: string; displayName: string | null; ip: string | null },
): D1PreparedStatement {
  const now = Date.now();
  return db
    .prepare(
      `INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip)
       VALUES (?1, ?2, ?3, ?4, ?4, ?5)
       ON CONFLICT (user_id, device_id) DO UPDATE SET
         display_name = COALESCE(?3, display_name), last_seen_ts = ?4, last_seen_ip = ?5`,
    )
    .bind(device.userId, device.deviceId, device.displayName, now, device.ip);
}

export async function setDeviceDisplayName(
  db: D1Database,
  userId: string,
  deviceId: string,
  displayName: string | null,
): Promise<boolean> {
  const r = await db
    .prepare("UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?")
    .bind(displayName, userId, deviceId)
    .run();
  return r.meta.changes > 0;
}

/** Deletes devices with every token (and pusher) that belongs to them, atomically. */
export async function deleteDevices(db: D1Database, userId: string, deviceIds: string[] | "all"): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (const table of ["devices", "access_tokens", "refresh_tokens", "pushers"] as const) {
    if (deviceIds === "all") {
      statements.push(db.prepare(`DELETE FROM ${table} WHERE user_id = ?`).bind(userId));
    } else {
      for (const deviceId of deviceIds) {
        statements.push(db.prepare(`DELETE FROM ${table} WHERE user_id = ? AND device_id = ?`).bind(userId, deviceId));
      }
    }
  }
  // Their end-to-end keys and pending to-device messages go too, and the user's device list changes.
  statements.push(...deviceKeysDeletionStatements(db, userId, deviceIds));
  if (statements.length > 0) await db.batch(statements);
}
