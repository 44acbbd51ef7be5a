import { z } from "zod";
import { invalidParam } from "../../http/errors";

/**
 * The request body of simplified sliding sync (MSC4186). Both shapes in use are accepted: the MSC's current one
 * (`range`, `required_state: {include, exclude, lazy_members}`, `is_invited`) and the one Element X, matrix-rust-sdk
 * and matrix-js-sdk send (`ranges`, `required_state: [[type, state_key]]` with `*`, `$LAZY`, `$ME`, `is_invite`).
 */

const MAX_LISTS = 100;
export const MAX_SUBSCRIPTIONS = 100;
const MAX_RANGES = 16;
const MAX_REQUIRED_STATE = 100;

const Index = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Range = z.tuple([Index, Index]).refine(([start, end]) => start <= end, "a range must not end before it starts");

const RequiredStateElement = z.object({ type: z.string().optional(), state_key: z.string().optional() });
const RequiredStateRequest = z.union([
  z.array(z.tuple([z.string(), z.string()])).max(MAX_REQUIRED_STATE),
  z.object({
    include: z.array(RequiredStateElement).max(MAX_REQUIRED_STATE).optional(),
    exclude: z.array(RequiredStateElement).max(MAX_REQUIRED_STATE).optional(),
    lazy_members: z.boolean().optional(),
  }),
]);
export type RequiredStateRequest = z.infer<typeof RequiredStateRequest>;

const RoomTypes = z.array(z.string().nullable()).max(100);
const ListFilters = z.object({
  is_dm: z.boolean().optional(),
  is_invite: z.boolean().optional(),
  is_invited: z.boolean().optional(),
  is_encrypted: z.boolean().optional(),
  room_types: RoomTypes.optional(),
  not_room_types: RoomTypes.optional(),
  spaces: z.array(z.string()).max(100).optional(),
  tags: z.array(z.string()).max(100).optional(),
  not_tags: z.array(z.string()).max(100).optional(),
});
export type ListFilters = z.infer<typeof ListFilters>;

const RoomConfig = {
  timeline_limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  required_state: RequiredStateRequest.optional(),
};

const ListConfig = z.object({
  ...RoomConfig,
  ranges: z.array(Range).max(MAX_RANGES).optional(),
  range: Range.optional(),
  filters: ListFilters.optional(),
});
export type ListConfig = z.infer<typeof ListConfig>;

const RoomSubscription = z.object(RoomConfig);
export type RoomSubscription = z.infer<typeof RoomSubscription>;

const Toggle = { enabled: z.boolean().optional() };
const Extensions = z.object({
  to_device: z.object({ ...Toggle, since: z.string().max(64).optional(), limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).optional(),
  e2ee: z.object(Toggle).optional(),
  account_data: z.object(Toggle).optional(),
  typing: z.object(Toggle).optional(),
  receipts: z.object(Toggle).optional(),
  presence: z.object(Toggle).optional(),
});
export type Extensions = z.infer<typeof Extensions>;

const ListName = z.string().min(1).max(64);

export const SlidingSyncBody = z.object({
  conn_id: z.string().max(64).optional(),
  // Echoed back: matrix-rust-sdk matches responses to requests with it.
  txn_id: z.string().max(255).optional(),
  // The MSC moved these to the body; clients still send them in the query string, which wins.
  pos: z.string().max(128).optional(),
  timeout: z.number().int().min(0).optional(),
  // Their counts are checked by `checkLimits`: MSC4186 answers M_INVALID_PARAM for too many, not M_BAD_JSON.
  lists: z.record(ListName, ListConfig).optional(),
  room_subscriptions: z.record(z.string().max(255), RoomSubscription).optional(),
  // matrix-js-sdk sends a subscription once, then this when it no longer wants it.
  unsubscribe_rooms: z.array(z.string().max(255)).max(MAX_SUBSCRIPTIONS).optional(),
  extensions: Extensions.optional(),
});
export type SlidingSyncBody = z.infer<typeof SlidingSyncBody>;

export const SlidingSyncQuery = z.object({
  pos: z.string().max(128).optional(),
  timeout: z.coerce.number().int().min(0).optional(),
  set_presence: z.enum(["offline", "online", "unavailable"]).optional(),
});

/** A list's ranges, whichever shape it came in; none means the whole list. */
export function rangesOf(list: ListConfig): [number, number][] | null {
  if (list.ranges) return list.ranges;
  if (list.range) return [list.range];
  return null;
}

/** MSC4186: more than 100 lists or 100 room subscriptions is M_INVALID_PARAM. */
export function checkLimits(body: SlidingSyncBody): void {
  if (Object.keys(body.lists ?? {}).length > MAX_LISTS) throw invalidParam(`At most ${MAX_LISTS} lists`);
  if (Object.keys(body.room_subscriptions ?? {}).length > MAX_SUBSCRIPTIONS) throw invalidParam(`At most ${MAX_SUBSCRIPTIONS} room subscriptions`);
}
