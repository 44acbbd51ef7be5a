import type { ListRoomRow } from "../../storage/sliding-sync";
import { type ListConfig, type ListFilters, rangesOf } from "./request";

/**
 * The server's room list and the lists cut from it (MSC4186 "Lists"). Pure: the rows and the account data it needs
 * are read beforehand.
 */

export interface ListInputs {
  userId: string;
  dmRooms: ReadonlySet<string>;
  ignored: ReadonlySet<string>;
  /** Tag names per room; read only when a list filters on tags. */
  tags: ReadonlyMap<string, string[]>;
  /** Children of each space the user is joined to; read only when a list filters on spaces. */
  spaceChildren: ReadonlyMap<string, ReadonlySet<string>>;
  /** Rooms this connection has sent before: rooms the user left stay listed only then. */
  sentRooms: ReadonlySet<string>;
}

export interface ListResult {
  count: number;
  /** The rooms within the list's ranges, most recent activity first. */
  roomIds: string[];
}

/**
 * Whether a membership puts the room in the server's list: joined, invited and knocked rooms; rooms the user was
 * kicked or banned from after joining; rooms they left themselves only if this connection has sent them before.
 */
function isListed(row: ListRoomRow, inputs: ListInputs): boolean {
  switch (row.membership) {
    case "join":
    case "knock":
      return true;
    case "invite":
      return row.member_sender === null || !inputs.ignored.has(row.member_sender);
    case "ban":
      return row.prev_membership === "join" || row.prev_membership === "leave" || inputs.sentRooms.has(row.room_id);
    default:
      return inputs.sentRooms.has(row.room_id) || (row.member_sender !== inputs.userId && row.prev_membership === "join");
  }
}

/** Most recent activity first; the room ID breaks ties so the order is stable. */
export function orderRooms(rows: ListRoomRow[], inputs: ListInputs): ListRoomRow[] {
  return rows.filter((r) => isListed(r, inputs)).sort((a, b) => b.activity - a.activity || (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0));
}

function passes(row: ListRoomRow, f: ListFilters, inputs: ListInputs): boolean {
  if (f.is_dm !== undefined && inputs.dmRooms.has(row.room_id) !== f.is_dm) return false;
  const invited = f.is_invited ?? f.is_invite;
  if (invited !== undefined && (row.membership === "invite") !== invited) return false;
  if (f.is_encrypted !== undefined && (row.encrypted === 1) !== f.is_encrypted) return false;
  const type = row.room_type ?? null;
  if (f.not_room_types?.includes(type)) return false;
  if (f.room_types && !f.room_types.includes(type)) return false;
  if (f.tags || f.not_tags) {
    const tags = inputs.tags.get(row.room_id) ?? [];
    if (f.not_tags?.some((t) => tags.includes(t))) return false;
    if (f.tags && !f.tags.some((t) => tags.includes(t))) return false;
  }
  if (f.spaces && !f.spaces.some((space) => inputs.spaceChildren.get(space)?.has(row.room_id))) return false;
  return true;
}

/** One list: its filtered count and the rooms its ranges select. */
export function cutList(ordered: ListRoomRow[], list: ListConfig, inputs: ListInputs): ListResult {
  const filtered = list.filters ? ordered.filter((r) => passes(r, list.filters!, inputs)) : ordered;
  const ranges = rangesOf(list);
  if (ranges === null) return { count: filtered.length, roomIds: filtered.map((r) => r.room_id) };
  const picked = new Set<number>();
  for (const [start, end] of ranges) for (let i = start; i <= Math.min(end, filtered.length - 1); i++) picked.add(i);
  return { count: filtered.length, roomIds: [...picked].sort((a, b) => a - b).map((i) => filtered[i]!.room_id) };
}

/** Whether any list filters on something read only on demand. */
export function filterNeeds(lists: ListConfig[]): { roomType: boolean; encryption: boolean; tags: boolean; spaces: string[] } {
  const filters = lists.flatMap((l) => (l.filters ? [l.filters] : []));
  return {
    roomType: filters.some((f) => f.room_types !== undefined || f.not_room_types !== undefined),
    encryption: filters.some((f) => f.is_encrypted !== undefined),
    tags: filters.some((f) => f.tags !== undefined || f.not_tags !== undefined),
    spaces: [...new Set(filters.flatMap((f) => f.spaces ?? []))],
  };
}
