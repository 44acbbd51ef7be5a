import { MatrixError, forbidden, notFound } from "../http/errors";
import type { Requester } from "../http/types";
import type { ClientEvent } from "../rooms/client-event";
import type { Pdu } from "../rooms/pdu";
import { getAlias } from "../storage/aliases";
import { type EventRow, getCurrentStateRow, getCurrentStateRows, getEventRow, getStateRowsAt } from "../storage/events";
import { roomsWithMembership } from "../storage/rooms";
import { parseAlias } from "./aliases";
import { clientEvents } from "./client-events";
import { assertCanRead } from "./messages";
import { filterVisible } from "./visibility";

const contentOf = (row: EventRow) => (JSON.parse(row.pdu) as Pdu).content;

/** The state a user may see: current state while joined, else the state when they left (or world-readable). */
async function visibleStateRows(db: D1Database, roomId: string, userId: string): Promise<EventRow[]> {
  const membership = await assertCanRead(db, roomId, userId);
  if (membership === "join" || membership === null) return getCurrentStateRows(db, roomId);
  const own = await getCurrentStateRow(db, roomId, "m.room.member", userId);
  return getStateRowsAt(db, roomId, own!.stream_ordering);
}

export async function roomState(db: D1Database, requester: Requester, roomId: string): Promise<ClientEvent[]> {
  return clientEvents(db, requester, await visibleStateRows(db, roomId, requester.userId));
}

/** One state event, as its content or (format=event) the whole event. */
export async function roomStateEvent(
  db: D1Database,
  requester: Requester,
  roomId: string,
  type: string,
  stateKey: string,
  format: "content" | "event",
): Promise<unknown> {
  const row = (await visibleStateRows(db, roomId, requester.userId)).find((r) => r.type === type && r.state_key === stateKey);
  if (!row) throw notFound("State event not found");
  return format === "event" ? (await clientEvents(db, requester, [row]))[0] : contentOf(row);
}

/** GET /event: only events the user may see; others are reported as not found, so nothing leaks. */
export async function roomEvent(db: D1Database, requester: Requester, roomId: string, eventId: string): Promise<ClientEvent> {
  await assertCanRead(db, roomId, requester.userId);
  const row = await getEventRow(db, eventId);
  if (!row || row.room_id !== roomId || (await filterVisible(db, roomId, requester.userId, [row])).length === 0) {
    throw notFound("Event not found");
  }
  return (await clientEvents(db, requester, [row]))[0]!;
}

export function joinedRooms(db: D1Database, userId: string): Promise<string[]> {
  return roomsWithMembership(db, userId, "join");
}

export async function roomMembers(
  db: D1Database,
  requester: Requester,
  roomId: string,
  filter: { membership?: string; not_membership?: string },
): Promise<ClientEvent[]> {
  const rows = (await visibleStateRows(db, roomId, requester.userId)).filter((r) => {
    if (r.type !== "m.room.member") return false;
    const membership = contentOf(r)["membership"];
    if (filter.membership && membership !== filter.membership) return false;
    return !(filter.not_membership && membership === filter.not_membership);
  });
  return clientEvents(db, requester, rows);
}

export async function joinedMembers(db: D1Database, userId: string, roomId: string) {
  const membership = await assertCanRead(db, roomId, userId);
  if (membership !== "join") throw forbidden("You are not joined to this room");
  const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
  for (const row of await getCurrentStateRows(db, roomId)) {
    if (row.type !== "m.room.member") continue;
    const content = contentOf(row);
    if (content["membership"] !== "join") continue;
    const member: { display_name?: string; avatar_url?: string } = {};
    if (typeof content["displayname"] === "string") member.display_name = content["displayname"];
    if (typeof content["avatar_url"] === "string") member.avatar_url = content["avatar_url"];
    joined[row.state_key!] = member;
  }
  return joined;
}

/** m.room.canonical_alias may only name aliases that exist and point to this room (M_BAD_ALIAS). */
export async function checkCanonicalAlias(db: D1Database, roomId: string, content: Record<string, unknown>): Promise<void> {
  const alt = Array.isArray(content["alt_aliases"]) ? content["alt_aliases"] : [];
  const aliases = [content["alias"], ...alt].filter((a): a is string => typeof a === "string");
  for (const alias of aliases) {
    if (!parseAlias(alias)) throw new MatrixError(400, "M_INVALID_PARAM", `Invalid alias ${alias}`);
    const row = await getAlias(db, alias);
    if (!row || row.room_id !== roomId) throw new MatrixError(400, "M_BAD_ALIAS", `${alias} does not point to this room`);
  }
}
