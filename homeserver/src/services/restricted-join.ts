import { namedLevel } from "../rooms/power-levels";
import { stateKeyOf, userPowerLevel } from "../rooms/auth-rules";
import type { RoomEvent } from "../rooms/event-builder";
import type { Pdu } from "../rooms/pdu";
import { isSupportedRoomVersion } from "../rooms/room-versions";
import { getCurrentStateRows } from "../storage/events";
import { getRoom, membershipOf } from "../storage/rooms";

/**
 * For a join to a `restricted` / `knock_restricted` room by a user who is not invited: if the user is joined to one
 * of the rooms its `allow` list names, picks a joined member with the invite level to authorise the join
 * (`join_authorised_via_users_server`; spec: "Restricted rooms"). Every member here is local, so any such member
 * works. Returns null when the join needs no authoriser or none qualifies (the auth rules then refuse it).
 */
export async function restrictedJoinAuthoriser(db: D1Database, roomId: string, userId: string): Promise<string | null> {
  const room = await getRoom(db, roomId);
  if (!room || !isSupportedRoomVersion(room.room_version)) return null;
  const state = new Map<string, RoomEvent>();
  for (const row of await getCurrentStateRows(db, roomId)) {
    state.set(stateKeyOf(row.type, row.state_key!), { event_id: row.event_id, pdu: JSON.parse(row.pdu) as Pdu });
  }
  const joinRules = state.get(stateKeyOf("m.room.join_rules", ""))?.pdu.content;
  const joinRule = joinRules?.["join_rule"];
  if (joinRule !== "restricted" && joinRule !== "knock_restricted") return null;
  const own = state.get(stateKeyOf("m.room.member", userId))?.pdu.content["membership"];
  if (own === "join" || own === "invite") return null;

  const allow = Array.isArray(joinRules?.["allow"]) ? (joinRules["allow"] as unknown[]) : [];
  const allowedRooms = allow.flatMap((entry) => {
    const e = entry as { type?: unknown; room_id?: unknown };
    return e.type === "m.room_membership" && typeof e.room_id === "string" ? [e.room_id] : [];
  });
  const memberships = await Promise.all(allowedRooms.map((allowed) => membershipOf(db, allowed, userId)));
  if (!memberships.includes("join")) return null;

  const inviteLevel = namedLevel(state, "invite");
  for (const event of state.values()) {
    if (event.pdu.type !== "m.room.member" || event.pdu.content["membership"] !== "join") continue;
    const member = event.pdu.state_key!;
    if (userPowerLevel(room.room_version, member, state) >= inviteLevel) return member;
  }
  return null;
}
