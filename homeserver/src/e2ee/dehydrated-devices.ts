import { MatrixError, forbidden, notFound } from "../http/errors";
import { getDevice } from "../storage/devices";
import { getDehydratedDevice, putDehydratedDevice } from "../storage/dehydrated-devices";
import { removeDevices } from "../services/devices";
import { type KeyUpload, uploadKeys } from "./device-keys";
import { ackToDevice, toDeviceSince } from "./to-device";
import type { ToDeviceEvent } from "../storage/to-device";
import { userKeys } from "./user-keys";

/**
 * MSC3814 dehydrated devices: a device whose private keys the client stores (encrypted) on the server, so messages
 * sent while every real device is offline can still be decrypted later. The server keeps the opaque device_data,
 * publishes the device's keys like any device's, and queues its to-device messages until a client fetches them.
 */

/** Most to-device messages one POST .../events returns. */
const EVENTS_PER_PAGE = 100;

export async function replaceDehydratedDevice(
  env: Env,
  userId: string,
  body: { device_id: string; device_data: Record<string, unknown>; initial_device_display_name?: string | undefined } & KeyUpload,
): Promise<{ device_id: string }> {
  const previous = await getDehydratedDevice(env.DB, userId);
  const existing = await getDevice(env.DB, userId, body.device_id);
  if (existing && previous?.device_id !== body.device_id) throw new MatrixError(400, "M_INVALID_PARAM", "A device with that id already exists");
  if (previous) await forgetDevice(env, userId, previous.device_id);
  await putDehydratedDevice(env.DB, userId, {
    deviceId: body.device_id,
    deviceData: JSON.stringify(body.device_data),
    displayName: body.initial_device_display_name ?? null,
  });
  await uploadKeys(env, userId, body.device_id, body);
  return { device_id: body.device_id };
}

export async function dehydratedDeviceOf(db: D1Database, userId: string): Promise<{ device_id: string; device_data: Record<string, unknown> }> {
  const row = await getDehydratedDevice(db, userId);
  if (!row) throw notFound("No dehydrated device");
  return { device_id: row.device_id, device_data: JSON.parse(row.device_data) as Record<string, unknown> };
}

export async function deleteDehydratedDevice(env: Env, userId: string): Promise<{ device_id: string }> {
  const row = await getDehydratedDevice(env.DB, userId);
  if (!row) throw notFound("No dehydrated device");
  await forgetDevice(env, userId, row.device_id);
  return { device_id: row.device_id };
}

async function forgetDevice(env: Env, userId: string, deviceId: string): Promise<void> {
  await removeDevices(env.DB, userId, [deviceId]);
  await userKeys(env, userId).forgetDevices([deviceId]);
}

/**
 * .../dehydrated_device/{deviceId}/events: a page of the device's to-device messages. The token of the previous page
 * (`next_batch` in a POST body, as MSC3814 first had it, or `from` in a GET query, as it has it now) acknowledges
 * (and deletes) what that page covered. `next_batch` is always given; a GET leaves it out once nothing is left,
 * which is how current clients (matrix-js-sdk's rehydration loop) know they are done.
 */
export async function dehydratedDeviceEvents(
  db: D1Database,
  userId: string,
  deviceId: string,
  nextBatch: string | undefined,
): Promise<{ events: ToDeviceEvent[]; next_batch: string }> {
  const row = await getDehydratedDevice(db, userId);
  if (!row || row.device_id !== deviceId) throw forbidden("That is not your dehydrated device");
  const since = nextBatch === undefined ? 0 : Number(nextBatch);
  if (!Number.isSafeInteger(since) || since < 0) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid next_batch");
  if (since > 0) await ackToDevice(db, userId, deviceId, since);
  const page = await toDeviceSince(db, userId, deviceId, since, EVENTS_PER_PAGE);
  return { events: page.events, next_batch: String(page.lastPosition ?? since) };
}
