import type { Requester } from "../http/types";
import type { ToDeviceEvent } from "../storage/to-device";
import type { SyncPosition } from "../sync/token";
import { deviceListChanges } from "./device-keys";
import { ackToDevice, toDeviceSince } from "./to-device";
import { userKeys } from "./user-keys";

/** The end-to-end encryption parts of a /sync response, for the requesting device. */
export interface E2eeSyncSection {
  to_device: { events: ToDeviceEvent[] };
  device_lists: { changed: string[]; left: string[] };
  /** Left out when the UserKeys object cannot answer (say, during a deploy): clients then keep their last counts. */
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

/** Most to-device messages one sync response carries; the rest follow in the next. */
const TO_DEVICE_PER_SYNC = 100;

/**
 * Builds the section and acknowledges (deletes) the to-device messages the client confirmed with `since`. When more
 * messages wait than one response carries, the returned `upTo` stops the shared stream at the last one delivered, so
 * the next sync starts right after it (the other shared-stream sections then stop there too, and follow next time).
 */
export async function e2eeSyncSection(
  env: Env,
  requester: Requester,
  since: SyncPosition | null,
  upTo: SyncPosition,
): Promise<{ section: E2eeSyncSection; upTo: SyncPosition }> {
  const { userId, deviceId } = requester;
  if (since) await ackToDevice(env.DB, userId, deviceId, since.shared);
  const toDevice = await toDeviceSince(env.DB, userId, deviceId, since?.shared ?? 0, TO_DEVICE_PER_SYNC, upTo.shared);
  const position = toDevice.limited && toDevice.lastPosition !== null ? { ...upTo, shared: toDevice.lastPosition } : upTo;
  const [deviceLists, counts] = await Promise.all([
    since ? deviceListChanges(env.DB, userId, since, position) : Promise.resolve({ changed: [], left: [] }),
    userKeys(env, userId)
      .counts(deviceId)
      .catch((err: unknown) => {
        console.error("one-time key counts unavailable", err);
        return null;
      }),
  ]);
  const section: E2eeSyncSection = { to_device: { events: toDevice.events }, device_lists: deviceLists };
  if (counts) {
    section.device_one_time_keys_count = counts.one_time_key_counts;
    section.device_unused_fallback_key_types = counts.unused_fallback_key_types;
  }
  return { section, upTo: position };
}

/** Whether the section has anything that should end a long-poll (key counts alone do not). */
export function hasE2eeNews(section: E2eeSyncSection): boolean {
  return section.to_device.events.length > 0 || section.device_lists.changed.length > 0 || section.device_lists.left.length > 0;
}
