import { upsertDeviceStatement } from "./devices";

/** MSC3814 dehydrated devices (migrations/0006): at most one per user. */

export interface DehydratedDeviceRow {
  device_id: string;
  device_data: string;
}

export function getDehydratedDevice(db: D1Database, userId: string): Promise<DehydratedDeviceRow | null> {
  return db.prepare("SELECT device_id, device_data FROM dehydrated_devices WHERE user_id = ?").bind(userId).first<DehydratedDeviceRow>();
}

/** Creates the device (it has no access token: only its keys and to-device messages matter) and records it. */
export async function putDehydratedDevice(
  db: D1Database,
  userId: string,
  device: { deviceId: string; deviceData: string; displayName: string | null },
): Promise<void> {
  await db.batch([
    upsertDeviceStatement(db, { userId, deviceId: device.deviceId, displayName: device.displayName, ip: null }),
    db
      .prepare("INSERT OR REPLACE INTO dehydrated_devices (user_id, device_id, device_data) VALUES (?, ?, ?)")
      .bind(userId, device.deviceId, device.deviceData),
  ]);
}
