import { upsertDeviceStatement } from "../storage/devices";

/**
 * MSC4190: an appservice creates devices for its users with PUT /devices/{deviceId} (no login, no token) and
 * deletes them without user-interactive auth.
 */
export async function putAppserviceDevice(db: D1Database, userId: string, deviceId: string, displayName: string | undefined): Promise<void> {
  await upsertDeviceStatement(db, { userId, deviceId, displayName: displayName ?? null, ip: null }).run();
}
