import { userKeys } from "../e2ee/user-keys";
import { devicesWithKeys, getDeviceListChangesAfter } from "../storage/e2ee-keys";
import { listDevices } from "../storage/devices";
import type { ToDeviceTarget } from "../storage/to-device";
import { appserviceQueue, queueTarget } from "./publish";
import type { QueueItem } from "./queue";
import { type Appservice, anchoredRegex } from "./registration";
import { type AppserviceRegistry, loadAppservices } from "./registry";

/**
 * End-to-bridge encryption data in transactions, for registrations with `org.matrix.msc3202: true`:
 * to-device messages (`de.sorunome.msc2409.to_device`, MSC2409's first version, as Synapse and mautrix use it),
 * device list changes and one-time / fallback key counts (MSC3202). The Worker side decides what goes to which
 * queue; the queue side (called by AppserviceQueue when it cuts a transaction) reads D1 and the key objects.
 */

/** What the queue needs to know about an MSC3202 appservice: whose devices it holds and whose lists it tracks. */
export interface Msc3202Target {
  senderUserId: string;
  /** The registration's user namespace regexes (sources, applied as full matches). */
  userNamespaces: string[];
}

/** One to-device message as a transaction carries it: the client event plus its recipient. */
export interface AppserviceToDevice {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  to_user_id: string;
  to_device_id: string;
}

/** Most device list changes one transaction reports; the rest follow in the next one. */
const MAX_DEVICE_LIST_CHANGES = 100;

/**
 * The appservice whose transactions carry to-device messages for `userId`: the one reserving the user exclusively,
 * when it asked for ephemeral data and MSC3202 and has a URL.
 */
function toDeviceTaker(registry: AppserviceRegistry, userId: string): Appservice | undefined {
  const as = registry.exclusiveOwnerOfUser(userId);
  return as && as.url !== null && as.receiveEphemeral && as.msc3202 ? as : undefined;
}

/**
 * PUT /sendToDevice: hands the messages for users an appservice takes (see toDeviceTaker) to that appservice's
 * queue, and returns the others, which go to device inboxes. They go to the appservice *instead* of the inbox: its
 * devices never /sync, so nothing would ever acknowledge (delete) them there. As in the inbox, a message for an
 * unknown device is dropped, and a retried request (same sender device and txnId) sends nothing twice: the queue
 * keeps each message's key.
 */
export async function handToDeviceToAppservices(
  env: Env,
  sender: { userId: string; deviceId: string },
  txnId: string,
  eventType: string,
  targets: ToDeviceTarget[],
): Promise<ToDeviceTarget[]> {
  const registry = loadAppservices(env);
  if (!registry.all.some((as) => as.msc3202 && as.receiveEphemeral)) return targets;
  const rest: ToDeviceTarget[] = [];
  const owed = new Map<Appservice, ToDeviceTarget[]>();
  for (const target of targets) {
    const as = toDeviceTaker(registry, target.userId);
    if (!as) rest.push(target);
    else if (owed.has(as)) owed.get(as)!.push(target);
    else owed.set(as, [target]);
  }
  const devices = new Map<string, Promise<Set<string>>>();
  const devicesOf = (userId: string) => {
    let known = devices.get(userId);
    if (!known) devices.set(userId, (known = listDevices(env.DB, userId).then((rows) => new Set(rows.map((r) => r.device_id)))));
    return known;
  };
  await Promise.all(
    [...owed].map(async ([as, mine]) => {
      const items: QueueItem[] = [];
      for (const t of mine) {
        if (!(await devicesOf(t.userId)).has(t.deviceId)) continue;
        const data: AppserviceToDevice = { type: eventType, sender: sender.userId, content: t.content, to_user_id: t.userId, to_device_id: t.deviceId };
        items.push({ kind: "to_device", data, key: ["to_device", sender.userId, sender.deviceId, txnId, t.userId, t.deviceId].join("\u0000") });
      }
      await appserviceQueue(env, as.id).enqueue(queueTarget(as), items);
    }),
  );
  return rest;
}

/**
 * After a device list change is committed: wakes the queues of MSC3202 appservices, which read the change from D1
 * with their next transaction (so a lost wake-up only delays it until the next transaction).
 */
export async function pokeDeviceListQueues(env: Env): Promise<void> {
  const appservices = loadAppservices(env).all.filter((as) => as.msc3202 && as.url !== null);
  await Promise.all(
    appservices.map((as) =>
      appserviceQueue(env, as.id)
        .poke(queueTarget(as))
        .catch((err: unknown) => console.warn(`appservice ${as.id} not told about a device list change:`, err)),
    ),
  );
}

const compiled = new Map<string, RegExp>();

function ownedBy(target: Msc3202Target, userId: string): boolean {
  if (userId === target.senderUserId) return true;
  return target.userNamespaces.some((source) => {
    let regex = compiled.get(source);
    if (!regex) compiled.set(source, (regex = anchoredRegex(source)));
    return regex.test(userId);
  });
}

/**
 * `org.matrix.msc3202.device_lists.changed` after shared-stream position `cursor`: users whose device list changed
 * and who share a room with one of the appservice's users (or are one). Returns the new cursor, and whether more
 * changes wait after it.
 */
export async function deviceListChangesFor(
  db: D1Database,
  target: Msc3202Target,
  cursor: number,
): Promise<{ changed: string[]; cursor: number; more: boolean }> {
  const rows = await getDeviceListChangesAfter(db, cursor, MAX_DEVICE_LIST_CHANGES);
  const changed = new Set(rows.filter((r) => r.sharing.some((u) => ownedBy(target, u))).map((r) => r.userId));
  return { changed: [...changed].sort(), cursor: rows.at(-1)?.position ?? cursor, more: rows.length === MAX_DEVICE_LIST_CHANGES };
}

/**
 * MSC3202 key counts, per user and device, of every device with identity keys of the given users (the queue asks
 * for its sender and the recipients of the transaction's to-device messages). Users without such devices are left
 * out.
 */
export async function keyCountsOf(
  env: Env,
  userIds: Iterable<string>,
): Promise<{ oneTimeKeys: Record<string, Record<string, Record<string, number>>>; unusedFallbackKeyTypes: Record<string, Record<string, string[]>> }> {
  const oneTimeKeys: Record<string, Record<string, Record<string, number>>> = {};
  const unusedFallbackKeyTypes: Record<string, Record<string, string[]>> = {};
  await Promise.all(
    [...new Set(userIds)].map(async (userId) => {
      const devices = [...(await devicesWithKeys(env.DB, userId))].sort();
      if (devices.length === 0) return;
      const counts = await userKeys(env, userId).countsOf(devices);
      for (const [deviceId, c] of Object.entries(counts)) {
        (oneTimeKeys[userId] ??= {})[deviceId] = c.one_time_key_counts;
        (unusedFallbackKeyTypes[userId] ??= {})[deviceId] = c.unused_fallback_key_types;
      }
    }),
  );
  return { oneTimeKeys, unusedFallbackKeyTypes };
}
