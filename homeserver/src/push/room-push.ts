import { stateKeyOf, userPowerLevel } from "../rooms/auth-rules";
import type { EventTemplate, RoomEvent } from "../rooms/event-builder";
import type { RoomVersionId } from "../rooms/pdu";
import type { MemberPushSettings } from "../services/push-rules";
import type { PushActionRow } from "../storage/push";
import { type PushContext, evaluatePushRules } from "./evaluate";

/**
 * Push evaluation of one new event for a room's local members, against the room state before the event (what the
 * RoomObject holds when it commits). Pure: the members' rules are read beforehand (services/push-rules.ts).
 */

/**
 * The users whose rules are evaluated for an event: joined members on this server, and the invitee of an invite
 * (`.m.rule.invite_for_me`; their own join later marks it read).
 */
export function pushRecipients(state: ReadonlyMap<string, RoomEvent>, serverName: string, template: EventTemplate): string[] {
  const members: string[] = [];
  const invitee = template.type === "m.room.member" && template.content["membership"] === "invite" ? template.state_key : undefined;
  if (invitee?.endsWith(`:${serverName}`)) members.push(invitee);
  for (const event of state.values()) {
    const userId = event.pdu.state_key;
    if (event.pdu.type !== "m.room.member" || userId === undefined || event.pdu.content["membership"] !== "join") continue;
    if (userId.endsWith(`:${serverName}`)) members.push(userId);
  }
  return members;
}

function joinedCount(state: ReadonlyMap<string, RoomEvent>): number {
  let count = 0;
  for (const event of state.values()) if (event.pdu.type === "m.room.member" && event.pdu.content["membership"] === "join") count++;
  return count;
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The thread an event is in when it says so itself, and the event it relates to (whose thread it may share). */
export function threadHints(event: RoomEvent): { threadId: string | null; parentId: string | null } {
  const relation = objectOrEmpty(event.pdu.content["m.relates_to"]);
  const target = typeof relation["event_id"] === "string" ? relation["event_id"] : null;
  if (relation["rel_type"] === "m.thread" && target !== null) return { threadId: target, parentId: null };
  return { threadId: null, parentId: target };
}

/**
 * The rows to record for `event`: one per member (never the sender, nor a member ignoring the sender) whose rules
 * say notify or highlight.
 */
export function pushActionsFor(
  version: RoomVersionId,
  roomId: string,
  state: ReadonlyMap<string, RoomEvent>,
  event: RoomEvent,
  settings: ReadonlyMap<string, MemberPushSettings>,
): PushActionRow[] {
  const sender = event.pdu.sender;
  const pushEvent: Record<string, unknown> = { ...event.pdu, event_id: event.event_id, room_id: roomId };
  delete pushEvent["unsigned"];
  const powerLevels = state.get(stateKeyOf("m.room.power_levels", ""));
  const base = {
    memberCount: joinedCount(state),
    senderPowerLevel: userPowerLevel(version, sender, state),
    notificationLevels: objectOrEmpty(powerLevels?.pdu.content["notifications"]),
  };
  const rows: PushActionRow[] = [];
  for (const [userId, member] of settings) {
    if (userId === sender || member.ignored.has(sender)) continue;
    const displayName = state.get(stateKeyOf("m.room.member", userId))?.pdu.content["displayname"];
    const ctx: PushContext = { ...base, userId, displayName: typeof displayName === "string" ? displayName : null };
    const outcome = evaluatePushRules(member.ruleset, pushEvent, ctx);
    if (outcome && (outcome.notify || outcome.highlight)) {
      rows.push({ userId, notify: outcome.notify, highlight: outcome.highlight, actions: outcome.actions });
    }
  }
  return rows;
}
