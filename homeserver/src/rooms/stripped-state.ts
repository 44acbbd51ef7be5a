import { stateKeyOf } from "./auth-rules";
import type { RoomEvent } from "./event-builder";

/** The state a user sees of a room they are invited to or knocking on (spec: "Stripped state"). */
const STRIPPED_TYPES = [
  "m.room.create",
  "m.room.name",
  "m.room.avatar",
  "m.room.topic",
  "m.room.join_rules",
  "m.room.canonical_alias",
  "m.room.encryption",
];

export interface StrippedStateEvent {
  type: string;
  state_key: string;
  content: Record<string, unknown>;
  sender: string;
}

export function strippedState(state: ReadonlyMap<string, RoomEvent>, senderOfInvite: string): StrippedStateEvent[] {
  const keys = [...STRIPPED_TYPES.map((t) => stateKeyOf(t, "")), stateKeyOf("m.room.member", senderOfInvite)];
  return keys.flatMap((key) => {
    const event = state.get(key);
    if (!event) return [];
    return [{ type: event.pdu.type, state_key: event.pdu.state_key ?? "", content: event.pdu.content, sender: event.pdu.sender }];
  });
}
