import type { Requester } from "../../http/types";
import { deviceListChanges } from "../../e2ee/device-keys";
import { ackToDevice, toDeviceSince } from "../../e2ee/to-device";
import { userKeys } from "../../e2ee/user-keys";
import { type AccountDataEvent, accountDataSince } from "../../services/account-data";
import { type PresenceEvent, presenceSince } from "../../services/presence";
import { pushRulesAccountData } from "../../services/push-rules";
import { type ReceiptContent, receiptsSince } from "../../services/receipts";
import { typingInRooms, typingSince } from "../../services/typing";
import type { ToDeviceEvent } from "../../storage/to-device";
import type { SyncPosition } from "../token";
import type { Extensions } from "./request";

/**
 * The extension results of a response (MSC3885 to-device, MSC3884 e2ee, MSC3959 account data, MSC3960 receipts,
 * MSC3961 typing, and MSC3575's presence).
 */
export interface ExtensionResults {
  to_device?: { next_batch: string; events: ToDeviceEvent[] };
  e2ee?: {
    device_lists: { changed: string[]; left: string[] };
    device_one_time_keys_count: Record<string, number>;
    device_unused_fallback_key_types: string[];
  };
  account_data?: AccountDataSections;
  typing?: { rooms: Record<string, { type: "m.typing"; content: { user_ids: string[] } }> };
  receipts?: { rooms: Record<string, { type: "m.receipt"; content: ReceiptContent }> };
  presence?: { events: PresenceEvent[] };
}

type AccountDataSections = { global: AccountDataEvent[]; rooms: Record<string, AccountDataEvent[]> };

const DEFAULT_TO_DEVICE_LIMIT = 100;
const MAX_TO_DEVICE_LIMIT = 1000;

export interface ExtensionScope {
  pos: SyncPosition | null;
  upTo: SyncPosition;
  /** Joined rooms the lists and subscriptions select now: typing and receipts are sent for these. */
  visibleRooms: string[];
  /** Rooms sent in full in this response: their receipts and typing are sent whole. */
  fullRooms: ReadonlySet<string>;
}

/**
 * The requested extensions. To-device messages have their own token (`since` / `next_batch`): a request with `since`
 * acknowledges, and so deletes, everything up to it, which is what delivers each message once even across retries.
 */
export async function buildExtensions(env: Env, requester: Requester, config: Extensions, scope: ExtensionScope): Promise<ExtensionResults> {
  const db = env.DB;
  const { userId, deviceId } = requester;
  const sharedSince = scope.pos?.shared ?? 0;
  const on = (e: { enabled?: boolean | undefined } | undefined) => e?.enabled === true;
  const incremental = scope.visibleRooms.filter((r) => !scope.fullRooms.has(r));
  const whole = scope.visibleRooms.filter((r) => scope.fullRooms.has(r) || scope.pos === null);
  const [toDevice, e2ee, accountData, typing, receipts, presence] = await Promise.all([
    on(config.to_device) ? toDeviceExtension(db, userId, deviceId, config.to_device!, scope.upTo.shared) : undefined,
    on(config.e2ee)
      ? Promise.all([
          scope.pos ? deviceListChanges(db, userId, scope.pos, scope.upTo) : Promise.resolve({ changed: [], left: [] }),
          userKeys(env, userId).counts(deviceId),
        ]).then(([deviceLists, counts]) => ({
          device_lists: deviceLists,
          device_one_time_keys_count: counts.one_time_key_counts,
          device_unused_fallback_key_types: counts.unused_fallback_key_types,
        }))
      : undefined,
    on(config.account_data) ? accountDataSince(db, userId, sharedSince, scope.upTo.shared).then((data) => withPushRules(userId, scope.pos, data)) : undefined,
    on(config.typing)
      ? Promise.all([
          scope.pos ? typingSince(db, incremental, scope.pos.shared, scope.upTo.shared) : Promise.resolve<Record<string, string[]>>({}),
          typingInRooms(db, whole),
        ]).then(([changed, now]) => {
          const rooms: NonNullable<ExtensionResults["typing"]>["rooms"] = {};
          for (const [roomId, userIds] of Object.entries({ ...changed, ...now })) rooms[roomId] = { type: "m.typing", content: { user_ids: userIds } };
          return { rooms };
        })
      : undefined,
    on(config.receipts)
      ? Promise.all([
          scope.pos && incremental.length > 0 ? receiptsSince(db, userId, incremental, scope.pos.shared, scope.upTo.shared) : Promise.resolve<Record<string, ReceiptContent>>({}),
          whole.length > 0 ? receiptsSince(db, userId, whole, 0, scope.upTo.shared) : Promise.resolve<Record<string, ReceiptContent>>({}),
        ]).then(([changed, all]) => {
          const rooms: NonNullable<ExtensionResults["receipts"]>["rooms"] = {};
          for (const [roomId, content] of Object.entries({ ...changed, ...all })) rooms[roomId] = { type: "m.receipt", content };
          return { rooms };
        })
      : undefined,
    on(config.presence) ? presenceSince(db, userId, sharedSince, scope.upTo.shared).then((events) => ({ events })) : undefined,
  ]);
  const results: ExtensionResults = {};
  if (toDevice) results.to_device = toDevice;
  if (e2ee) results.e2ee = e2ee;
  if (accountData) results.account_data = accountData;
  if (typing) results.typing = typing;
  if (receipts) results.receipts = receipts;
  if (presence) results.presence = presence;
  return results;
}

/**
 * Clients read push rules from the account data of a new connection (matrix-rust-sdk evaluates notifications with
 * them): a user who never changed theirs gets the defaults, as in an initial /sync.
 */
function withPushRules(userId: string, pos: SyncPosition | null, data: AccountDataSections): AccountDataSections {
  if (pos !== null || data.global.some((e) => e.type === "m.push_rules")) return data;
  return { ...data, global: [...data.global, pushRulesAccountData(userId)] };
}

async function toDeviceExtension(
  db: D1Database,
  userId: string,
  deviceId: string,
  config: NonNullable<Extensions["to_device"]>,
  upTo: number,
): Promise<NonNullable<ExtensionResults["to_device"]>> {
  const since = config.since !== undefined && /^\d{1,15}$/.test(config.since) ? Number(config.since) : 0;
  if (since > 0) await ackToDevice(db, userId, deviceId, since);
  // A larger limit is served as this server's largest batch, as `timeline_limit` is, not refused.
  const limit = Math.min(config.limit ?? DEFAULT_TO_DEVICE_LIMIT, MAX_TO_DEVICE_LIMIT);
  const batch = await toDeviceSince(db, userId, deviceId, since, limit, upTo);
  // Everything up to `upTo` was read unless the batch was cut short, in which case the next starts after its last
  // (or where this one started, when a limit of 0 delivered nothing).
  const next = batch.limited ? (batch.lastPosition ?? since) : Math.max(since, upTo);
  return { next_batch: String(next), events: batch.events };
}

/** Whether the extensions carry something that should end a long-poll (key counts alone do not). */
export function hasExtensionNews(r: ExtensionResults): boolean {
  return (
    (r.to_device?.events.length ?? 0) > 0 ||
    (r.e2ee ? r.e2ee.device_lists.changed.length + r.e2ee.device_lists.left.length > 0 : false) ||
    (r.account_data ? r.account_data.global.length > 0 || Object.keys(r.account_data.rooms).length > 0 : false) ||
    Object.keys(r.typing?.rooms ?? {}).length > 0 ||
    Object.keys(r.receipts?.rooms ?? {}).length > 0 ||
    (r.presence?.events.length ?? 0) > 0
  );
}
