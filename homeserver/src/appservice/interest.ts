import type { RoomEvent } from "../rooms/event-builder";
import { type Appservice, matchesAny, ownsUser } from "./registration";

/** What the interest rules look at: the room's id and its current state (type/state_key -> event). */
export interface RoomView {
  roomId: string;
  state: ReadonlyMap<string, RoomEvent>;
}

/** The room's published aliases from its m.room.canonical_alias state. */
function canonicalAliases(room: RoomView): string[] {
  const aliases: string[] = [];
  for (const event of room.state.values()) {
    if (event.pdu.type !== "m.room.canonical_alias" || event.pdu.state_key !== "") continue;
    const { alias, alt_aliases: alt } = event.pdu.content as { alias?: unknown; alt_aliases?: unknown };
    if (typeof alias === "string") aliases.push(alias);
    if (Array.isArray(alt)) aliases.push(...alt.filter((a): a is string => typeof a === "string"));
  }
  return aliases;
}

function hasNamespacedMember(as: Appservice, room: RoomView): boolean {
  for (const event of room.state.values()) {
    if (event.pdu.type !== "m.room.member" || event.pdu.state_key === undefined) continue;
    if (event.pdu.content["membership"] === "join" && ownsUser(as, event.pdu.state_key)) return true;
  }
  return false;
}

/**
 * Is the appservice interested in the whole room (Application Service API, "Registration"): the room id is in
 * its room namespaces, one of its users is joined, or an alias of the room (canonical ones here, local
 * directory aliases given by the caller) is in its alias namespaces.
 */
export function interestedInRoom(as: Appservice, room: RoomView, localAliases: readonly string[]): boolean {
  if (matchesAny(as.rooms, room.roomId)) return true;
  if (hasNamespacedMember(as, room)) return true;
  if (as.aliases.length === 0) return false;
  return [...canonicalAliases(room), ...localAliases].some((alias) => matchesAny(as.aliases, alias));
}

/** Is the appservice interested in this event on its own: sent by one of its users, or a membership of one. */
export function interestedInEvent(as: Appservice, event: RoomEvent): boolean {
  if (ownsUser(as, event.pdu.sender)) return true;
  return event.pdu.type === "m.room.member" && event.pdu.state_key !== undefined && ownsUser(as, event.pdu.state_key);
}
