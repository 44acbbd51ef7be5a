import type { Pdu } from "../rooms/pdu";
import type { StrippedStateEvent } from "../rooms/stripped-state";
import type { EventRow } from "../storage/events";

/**
 * What an invited (or knocking) user sees of a room: the stripped state the RoomObject stored in the member event's
 * unsigned data when it committed it (`invite_room_state` / `knock_room_state`), followed by the member event itself.
 */
export function strippedStateOf(memberEvent: EventRow, key: "invite_room_state" | "knock_room_state"): StrippedStateEvent[] {
  const unsigned = memberEvent.unsigned ? (JSON.parse(memberEvent.unsigned) as Record<string, unknown>) : {};
  const stored = Array.isArray(unsigned[key]) ? (unsigned[key] as StrippedStateEvent[]) : [];
  const pdu = JSON.parse(memberEvent.pdu) as Pdu;
  const own: StrippedStateEvent = { type: pdu.type, state_key: pdu.state_key ?? "", content: pdu.content, sender: pdu.sender };
  return [...stored.filter((e) => !(e.type === own.type && e.state_key === own.state_key)), own];
}
