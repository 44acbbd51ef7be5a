import { notFound } from "../http/errors";
import { type DeviceRow, deleteDevices, getDevice, listDevices, setDeviceDisplayName } from "../storage/devices";

/** A device as the Client-Server API shows it. */
export interface ClientDevice {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

const toClientDevice = (d: DeviceRow): ClientDevice => ({
  device_id: d.device_id,
  display_name: d.display_name ?? undefined,
  last_seen_ip: d.last_seen_ip ?? undefined,
  last_seen_ts: d.last_seen_ts ?? undefined,
});

export async function devicesOf(db: D1Database, userId: string): Promise<ClientDevice[]> {
  return (await listDevices(db, userId)).map(toClientDevice);
}

/** One of the user's devices; M_NOT_FOUND for devices that are not theirs. */
export async function deviceOf(db: D1Database, userId: string, deviceId: string): Promise<ClientDevice> {
  const row = await getDevice(db, userId, deviceId);
  if (!row) throw notFound("Unknown device");
  return toClientDevice(row);
}

export async function renameDevice(db: D1Database, userId: string, deviceId: string, displayName: string): Promise<void> {
  if (!(await setDeviceDisplayName(db, userId, deviceId, displayName))) throw notFound("Unknown device");
}

/** Signs devices out: the devices go, with every token that belongs to them. */
export function removeDevices(db: D1Database, userId: string, deviceIds: string[] | "all"): Promise<void> {
  return deleteDevices(db, userId, deviceIds);
}
