import { z } from "zod";

/**
 * The simplified sliding sync requests Element X sends, built as matrix-rust-sdk builds them (field for field, as ruma
 * serializes them: `pos`, `timeout` and `set_presence` go in the query string, the rest in the body), and
 * `RumaResponse`, the shape ruma's `sync_events::v5::Response` deserializes. Shared by the Workers tests
 * (homeserver/test/api/sliding-sync-element-x.test.ts) and the end-to-end tests (test/e2e/sliding-sync.test.ts).
 */

export const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

// crates/matrix-sdk-ui/src/room_list_service/mod.rs: DEFAULT_REQUIRED_STATE (ruma serializes StateEventType by its
// unstable name: CallMember, MemberHints and BeaconInfo below).
const DEFAULT_REQUIRED_STATE = [
  ["m.room.name", ""],
  ["m.room.encryption", ""],
  ["m.room.member", "$LAZY"],
  ["m.room.member", "$ME"],
  ["m.room.topic", ""],
  ["m.room.avatar", ""],
  ["m.room.canonical_alias", ""],
  ["m.room.power_levels", ""],
  ["org.matrix.msc3401.call.member", "*"],
  ["m.room.join_rules", ""],
  ["m.room.tombstone", ""],
  ["m.room.create", ""],
  ["m.room.history_visibility", ""],
  ["io.element.functional_members", ""],
  ["m.space.parent", "*"],
  ["m.space.child", "*"],
  ["org.matrix.msc3672.beacon_info", "*"],
];

/**
 * crates/matrix-sdk-ui/src/room_list_service/mod.rs (`RoomListService::new_with`) and state.rs: conn_id "room-list",
 * one list `all_rooms`, Selective 0..=19 while setting up, then Growing by batches of 100; `filters` with `is_invite`
 * unset serializes as `{}`. The thread-subscriptions and profiles extensions are sent when the app enables them.
 */
export function roomListRequest(ranges: [number, number][]) {
  return {
    conn_id: "room-list",
    lists: {
      all_rooms: { ranges, timeline_limit: 1, required_state: DEFAULT_REQUIRED_STATE, filters: {} },
    },
    extensions: {
      account_data: { enabled: true },
      receipts: { enabled: true, rooms: ["*"] },
      typing: { enabled: true },
      "io.element.msc4308.thread_subscriptions": { enabled: true, limit: 10 },
      "org.matrix.msc4262.profiles": { enabled: true },
    },
  };
}

/** crates/matrix-sdk-ui/src/room_list_service/mod.rs (`subscribe_to_rooms`): the room the user opens. */
export function roomSubscription() {
  return { required_state: [...DEFAULT_REQUIRED_STATE, ["m.room.pinned_events", ""]], timeline_limit: 20 };
}

/** crates/matrix-sdk-ui/src/encryption_sync_service.rs: conn_id "encryption", no lists, to-device and e2ee only. */
export function encryptionRequest(since: string | undefined) {
  return { conn_id: "encryption", extensions: { to_device: { enabled: true, ...(since !== undefined && { since }) }, e2ee: { enabled: true } } };
}

// crates/matrix-sdk-ui/src/notification_client.rs (`try_sliding_sync`): the required state of its list and subscription.
const NOTIFICATION_REQUIRED_STATE = [
  ["m.room.encryption", ""],
  ["m.room.member", "$LAZY"],
  ["m.room.member", "$ME"],
  ["m.room.canonical_alias", ""],
  ["m.room.name", ""],
  ["m.room.avatar", ""],
  ["m.room.power_levels", ""],
  ["m.room.join_rules", ""],
  ["org.matrix.msc3401.call.member", "*"],
  ["m.room.create", ""],
  ["io.element.functional_members", ""],
];

/** crates/matrix-sdk-ui/src/notification_client.rs: conn_id "notifications", an `invites` list and the rooms notified. */
export function notificationRequest(roomIds: string[]) {
  return {
    conn_id: "notifications",
    lists: { invites: { ranges: [[0, 16]], timeline_limit: 8, required_state: NOTIFICATION_REQUIRED_STATE, filters: { is_invite: true } } },
    room_subscriptions: Object.fromEntries(roomIds.map((id) => [id, { required_state: NOTIFICATION_REQUIRED_STATE, timeline_limit: 16 }])),
    extensions: { account_data: { enabled: true } },
  };
}

// What ruma (crates/ruma-client-api/src/sync/sync_events/v5.rs, `response`) deserializes: a field of the wrong type
// fails the whole response, so Element X would not sync at all.
const UInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Event = z.object({ type: z.string(), content: z.record(z.string(), z.unknown()) });
const TimelineEvent = Event.extend({ event_id: z.string(), sender: z.string(), origin_server_ts: UInt, state_key: z.string().optional() });
const StateEvent = TimelineEvent.extend({ state_key: z.string() });
const StrippedState = Event.extend({ state_key: z.string(), sender: z.string() });
const Room = z.object({
  name: z.string().nullable().optional(),
  avatar: z.string().nullable().optional(),
  initial: z.boolean().optional(),
  is_dm: z.boolean().optional(),
  invite_state: z.array(StrippedState).optional(),
  notification_count: UInt.optional(),
  highlight_count: UInt.optional(),
  timeline: z.array(TimelineEvent).optional(),
  required_state: z.array(StateEvent).optional(),
  prev_batch: z.string().optional(),
  limited: z.boolean().optional(),
  joined_count: UInt.optional(),
  invited_count: UInt.optional(),
  num_live: UInt.optional(),
  bump_stamp: UInt.optional(),
  heroes: z.array(z.object({ user_id: z.string(), displayname: z.string().optional(), avatar_url: z.string().optional() })).optional(),
});
const RoomsOf = <T extends z.ZodTypeAny>(value: T) => z.record(z.string().startsWith("!"), value);
export const RumaResponse = z.object({
  txn_id: z.string().optional(),
  pos: z.string(),
  lists: z.record(z.string(), z.object({ count: UInt })).optional(),
  rooms: RoomsOf(Room).optional(),
  extensions: z
    .object({
      to_device: z.object({ next_batch: z.string(), events: z.array(Event.extend({ sender: z.string() })).optional() }).optional(),
      e2ee: z
        .object({
          device_lists: z.object({ changed: z.array(z.string()).optional(), left: z.array(z.string()).optional() }).optional(),
          device_one_time_keys_count: z.record(z.string(), UInt).optional(),
          device_unused_fallback_key_types: z.array(z.string()).optional(),
        })
        .optional(),
      account_data: z.object({ global: z.array(Event).optional(), rooms: RoomsOf(z.array(Event)).optional() }).optional(),
      receipts: z.object({ rooms: RoomsOf(Event.extend({ type: z.literal("m.receipt") })).optional() }).optional(),
      typing: z.object({ rooms: RoomsOf(Event.extend({ type: z.literal("m.typing") })).optional() }).optional(),
    })
    .optional(),
});
export type RumaResponse = z.infer<typeof RumaResponse>;
export type RoomResult = z.infer<typeof Room>;
