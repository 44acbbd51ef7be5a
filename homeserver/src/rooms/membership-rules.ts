/**
 * The authorization rules for type `m.room.member` (rule 4 in room versions 10 and 11, rule 5 in 12).
 * Pure; no I/O. Version differences come in as a `RoomVersion` row of room-versions.ts.
 */
import type { StoredPdu as AuthEvent } from "./pdu";
import {
  type AuthState,
  M_ROOM_CREATE,
  M_ROOM_JOIN_RULES,
  creatorOf,
  isValidUserId,
  membershipOf,
  namedLevel,
  serverNameOf,
  stateEvent,
  userLevel,
} from "./power-levels";
import type { RoomVersion } from "./room-versions";

interface MemberCheck {
  rules: RoomVersion;
  event: AuthEvent;
  state: AuthState;
  /** The *target user*: the event's `state_key`. */
  target: string;
  sender: string;
}

export function checkMembershipEvent(rules: RoomVersion, event: AuthEvent, state: AuthState): string | null {
  const { state_key: target, content, sender } = event.pdu;
  const membership = content["membership"];
  if (typeof target !== "string") return "m.room.member event has no state_key";
  if (typeof membership !== "string") return "m.room.member event has no content.membership";

  const signedVia = checkJoinAuthorisedViaSignature(event);
  if (signedVia) return signedVia;

  const check: MemberCheck = { rules, event, state, target, sender };
  switch (membership) {
    case "join":
      return checkJoin(check);
    case "invite":
      return checkInvite(check);
    case "leave":
      return checkLeave(check);
    case "ban":
      return checkBan(check);
    case "knock":
      return checkKnock(check);
    default:
      return `unknown membership '${membership}'`;
  }
}

/**
 * A join authorised by a resident user must be signed by that user's server. Verifying the signature needs keys, so
 * that is left to the signature checks; here the signature must at least be present, so sign before checking.
 */
function checkJoinAuthorisedViaSignature(event: AuthEvent): string | null {
  const via = event.pdu.content["join_authorised_via_users_server"];
  if (via === undefined) return null;
  if (typeof via !== "string" || !isValidUserId(via)) return "join_authorised_via_users_server is not a user id";
  const serverName = serverNameOf(via) ?? "";
  const signatures = event.pdu.signatures[serverName];
  if (!signatures || Object.keys(signatures).length === 0) {
    return `event is not signed by ${serverName}, the server of join_authorised_via_users_server`;
  }
  return null;
}

/**
 * The current join rule. The spec names no default; a missing event or property is treated as `invite`, as the
 * widely deployed implementations do, so that our view of such a room's state does not diverge from theirs.
 */
function joinRuleOf(state: AuthState): string {
  const joinRule = stateEvent(state, M_ROOM_JOIN_RULES)?.pdu.content["join_rule"];
  return typeof joinRule === "string" ? joinRule : "invite";
}

function checkJoin({ rules, event, state, target, sender }: MemberCheck): string | null {
  const create = stateEvent(state, M_ROOM_CREATE);
  const prevEvents = event.pdu.prev_events;
  if (create && prevEvents.length === 1 && prevEvents[0] === create.event_id && target === creatorOf(rules, create)) {
    return null;
  }
  if (sender !== target) return "cannot join on behalf of another user";
  const current = membershipOf(state, sender);
  if (current === "ban") return "sender is banned";

  const joinRule = joinRuleOf(state);
  const invitedOrJoined = current === "invite" || current === "join";
  switch (joinRule) {
    case "public":
      return null;
    case "invite":
    case "knock":
      return invitedOrJoined ? null : `join rule is '${joinRule}' and the sender is not invited`;
    case "restricted":
    case "knock_restricted": {
      if (invitedOrJoined) return null;
      return checkAuthorisingUser(rules, event, state);
    }
    default:
      return `join rule '${joinRule}' does not allow joining`;
  }
}

/** A restricted join needs a joined resident with the invite level to vouch for it. */
function checkAuthorisingUser(rules: RoomVersion, event: AuthEvent, state: AuthState): string | null {
  const via = event.pdu.content["join_authorised_via_users_server"];
  if (typeof via !== "string") return "restricted join without join_authorised_via_users_server";
  if (membershipOf(state, via) !== "join") return `authorising user ${via} is not joined to the room`;
  if (userLevel(rules, via, state) < namedLevel(state, "invite")) {
    return `authorising user ${via} cannot invite users`;
  }
  return null;
}

function checkInvite({ rules, event, state, target, sender }: MemberCheck): string | null {
  if (event.pdu.content["third_party_invite"] !== undefined) {
    // Checking `signed` needs the identity server's public keys and signature verification; not supported yet.
    return "third-party invites (content.third_party_invite) are not supported";
  }
  if (membershipOf(state, sender) !== "join") return "sender is not joined to the room";
  const current = membershipOf(state, target);
  if (current === "join") return "target user is already joined";
  if (current === "ban") return "target user is banned";
  if (userLevel(rules, sender, state) < namedLevel(state, "invite")) return "sender's power level is below the invite level";
  return null;
}

function checkLeave({ rules, state, target, sender }: MemberCheck): string | null {
  if (sender === target) {
    const current = membershipOf(state, sender);
    return current === "invite" || current === "join" || current === "knock"
      ? null
      : "sender is not invited, joined or knocking, so cannot leave";
  }
  if (membershipOf(state, sender) !== "join") return "sender is not joined to the room";
  const senderLevel = userLevel(rules, sender, state);
  if (membershipOf(state, target) === "ban" && senderLevel < namedLevel(state, "ban")) {
    return "sender's power level is below the ban level, so cannot unban";
  }
  if (senderLevel < namedLevel(state, "kick")) return "sender's power level is below the kick level";
  if (userLevel(rules, target, state) >= senderLevel) return "target user's power level is not below the sender's";
  return null;
}

function checkBan({ rules, state, target, sender }: MemberCheck): string | null {
  if (membershipOf(state, sender) !== "join") return "sender is not joined to the room";
  const senderLevel = userLevel(rules, sender, state);
  if (senderLevel < namedLevel(state, "ban")) return "sender's power level is below the ban level";
  if (userLevel(rules, target, state) >= senderLevel) return "target user's power level is not below the sender's";
  return null;
}

function checkKnock({ state, target, sender }: MemberCheck): string | null {
  const joinRule = joinRuleOf(state);
  if (joinRule !== "knock" && joinRule !== "knock_restricted") return `join rule '${joinRule}' does not allow knocking`;
  if (sender !== target) return "cannot knock on behalf of another user";
  const current = membershipOf(state, sender);
  if (current === "ban" || current === "invite" || current === "join") return `sender cannot knock while '${current}'`;
  return null;
}
