import { z } from "zod";
import { invalidParam, notFound } from "../http/errors";
import { check } from "../http/validate";
import { RoomEventFilter } from "../services/event-filter";
import { getFilterDefinition, insertFilter } from "../storage/filters";

/** An EventFilter (presence and global account data). */
const EventFilter = z.object({
  limit: z.number().int().min(0).optional(),
  types: z.array(z.string()).optional(),
  not_types: z.array(z.string()).optional(),
  senders: z.array(z.string()).optional(),
  not_senders: z.array(z.string()).optional(),
});

const RoomFilter = z.object({
  rooms: z.array(z.string()).optional(),
  not_rooms: z.array(z.string()).optional(),
  include_leave: z.boolean().optional(),
  state: RoomEventFilter.optional(),
  timeline: RoomEventFilter.optional(),
  ephemeral: RoomEventFilter.optional(),
  account_data: RoomEventFilter.optional(),
});

/** The Filter of POST /user/{userId}/filter and /sync's `filter` (spec: "Filtering"). Unknown fields are allowed. */
export const SyncFilter = z.object({
  event_fields: z.array(z.string()).optional(),
  event_format: z.enum(["client", "federation"]).optional(),
  presence: EventFilter.optional(),
  account_data: EventFilter.optional(),
  room: RoomFilter.optional(),
});
export type SyncFilter = z.infer<typeof SyncFilter>;
type TypeFilter = { types?: string[] | undefined; not_types?: string[] | undefined };

const MAX_FILTER_BYTES = 64 * 1024;

/** Event type patterns may end in `*`, matching any suffix. */
function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith("*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

/** Whether a filter's `types` / `not_types` let events of `type` through (ephemeral and account data events). */
export function allowsType(filter: TypeFilter | undefined, type: string): boolean {
  if (!filter) return true;
  if (filter.types && !filter.types.some((p) => typeMatches(p, type))) return false;
  return !filter.not_types?.some((p) => typeMatches(p, type));
}

type RoomList = { rooms?: string[] | undefined; not_rooms?: string[] | undefined };

/** Whether a `rooms` / `not_rooms` pair lets a room through (`not_rooms` wins). */
export function allowsRoomIn(list: RoomList | undefined, roomId: string): boolean {
  if (list?.not_rooms?.includes(roomId)) return false;
  return list?.rooms === undefined || list.rooms.includes(roomId);
}

/** Whether the filter's `room.rooms` / `room.not_rooms` let a room through (applied before every other part). */
export function allowsRoom(filter: SyncFilter, roomId: string): boolean {
  return allowsRoomIn(filter.room, roomId);
}

/** POST /user/{userId}/filter: validates and stores the definition as sent; returns the new filter id. */
export async function createFilter(db: D1Database, userId: string, body: unknown): Promise<string> {
  check(SyncFilter, body, "body");
  return String(await insertFilter(db, userId, JSON.stringify(body)));
}

/** GET /user/{userId}/filter/{filterId} */
export async function loadFilter(db: D1Database, userId: string, filterId: string): Promise<Record<string, unknown>> {
  const definition = /^\d{1,15}$/.test(filterId) ? await getFilterDefinition(db, userId, Number(filterId)) : null;
  if (definition === null) throw notFound("Unknown filter");
  return JSON.parse(definition) as Record<string, unknown>;
}

/**
 * /sync's `filter` parameter: inline JSON when it starts with `{` (as the spec says to detect it), otherwise the id
 * of one of the user's stored filters. Anything unusable is M_INVALID_PARAM, never a 500.
 */
export async function resolveSyncFilter(db: D1Database, userId: string, param: string | undefined): Promise<SyncFilter> {
  if (param === undefined || param === "") return {};
  let json: unknown;
  if (param.startsWith("{")) {
    if (param.length > MAX_FILTER_BYTES) throw invalidParam("filter is too large");
    try {
      json = JSON.parse(param);
    } catch {
      throw invalidParam("filter is not valid JSON");
    }
  } else {
    const definition = /^\d{1,15}$/.test(param) ? await getFilterDefinition(db, userId, Number(param)) : null;
    if (definition === null) throw invalidParam(`Unknown filter ${param}`);
    json = JSON.parse(definition);
  }
  const parsed = SyncFilter.safeParse(json);
  if (!parsed.success) throw invalidParam(`Invalid filter: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}
