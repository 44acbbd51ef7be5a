import { handToDeviceToAppservices } from "../appservice/encryption";
import { invalidParam } from "../http/errors";
import { listDevices } from "../storage/devices";
import {
  type ToDeviceEvent,
  type ToDeviceTarget,
  deleteToDeviceMessages,
  getToDeviceMessages,
  insertToDeviceMessages,
} from "../storage/to-device";
import { notifyUsers } from "../sync/notifier";
import { serverOf } from "./device-keys";

/** Most messages one PUT /sendToDevice may fan out to (after `*` is expanded). */
export const MAX_TO_DEVICE_TARGETS = 10_000;

/**
 * PUT /sendToDevice/{eventType}/{txnId}: queues one message per target device (`*` = every device of the user) and
 * wakes the recipients' syncs. A repeated txnId of the same device sends nothing. Remote users are skipped: this
 * server does not federate. Messages for an encrypting appservice's users go to it in transactions instead.
 */
export async function sendToDevice(
  env: Env,
  serverName: string,
  sender: { userId: string; deviceId: string },
  eventType: string,
  txnId: string,
  messages: Record<string, Record<string, Record<string, unknown>>>,
): Promise<void> {
  const targets: ToDeviceTarget[] = [];
  for (const [userId, byDevice] of Object.entries(messages)) {
    if (serverOf(userId) !== serverName) continue;
    for (const [deviceId, content] of Object.entries(byDevice)) {
      if (deviceId === "*") {
        for (const device of await listDevices(env.DB, userId)) targets.push({ userId, deviceId: device.device_id, content });
      } else {
        targets.push({ userId, deviceId, content });
      }
    }
  }
  if (targets.length > MAX_TO_DEVICE_TARGETS) throw invalidParam(`At most ${MAX_TO_DEVICE_TARGETS} devices per request`);
  const inboxTargets = await handToDeviceToAppservices(env, sender, txnId, eventType, targets);
  if (inboxTargets.length === 0) return;
  const position = await insertToDeviceMessages(env.DB, sender, txnId, eventType, inboxTargets);
  if (position !== null) await notifyUsers(env, inboxTargets.map((t) => t.userId), position, "shared");
}

/** For /sync: the device's messages after `since` (up to `upTo`), at most `limit`, oldest first. */
export function toDeviceSince(
  db: D1Database,
  userId: string,
  deviceId: string,
  since: number,
  limit: number,
  upTo?: number,
): Promise<{ events: ToDeviceEvent[]; lastPosition: number | null; limited: boolean }> {
  return getToDeviceMessages(db, userId, deviceId, since, limit, upTo);
}

/** For /sync: a request with `since` acknowledges every message up to it, which can then go. */
export function ackToDevice(db: D1Database, userId: string, deviceId: string, upTo: number): Promise<void> {
  return deleteToDeviceMessages(db, userId, deviceId, upTo);
}
