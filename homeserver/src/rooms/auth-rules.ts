/**
 * The authorization rules of room versions 10, 11 and 12 (spec: rooms/v10.md, v11.md, v12.md, "Authorisation
 * rules"), the auth events selection (server-server "Auth events selection") and the redaction check of "Handling
 * redactions". Pure; no I/O, no signature or hash checks (those come before these rules).
 *
 * `authState` maps `stateKeyOf(type, state_key)` to an event: either the event's auth events or a room state.
 * In room version 12 the m.room.create event is never an auth event, but the rules still read it, so the caller
 * must put it in the map (it is the event the `room_id` names).
 */
import { checkMembershipEvent } from "./membership-rules";
import type { Pdu, RoomVersionId } from "./pdu";
import {
  type AuthState,
  M_ROOM_CREATE,
  M_ROOM_JOIN_RULES,
  M_ROOM_MEMBER,
  M_ROOM_POWER_LEVELS,
  M_ROOM_THIRD_PARTY_INVITE,
  checkPowerLevelsEvent,
  isValidUserId,
  membershipOf,
  namedLevel,
  requiredLevel,
  serverNameOf,
  stateEvent,
  stateKeyOf,
  userLevel,
} from "./power-levels";
// Every rule that differs between versions 10-12 reads a flag of this one table; none tests a version number.
import { ROOM_VERSIONS, type RoomVersion, isSupportedRoomVersion } from "./room-versions";

export { stateKeyOf };
export type { AuthState, StateKey } from "./power-levels";

export interface AuthEvent {
  event_id: string;
  pdu: Pdu;
}

/**
 * Checks `event` against the state described by `authState` (a map from (type,state_key) to the event, built from
 * the event's auth_events or from the current state). Returns null when allowed, or a human-readable reason when
 * rejected.
 */
export function checkAuth(version: RoomVersionId, event: AuthEvent, authState: ReadonlyMap<string, AuthEvent>): string | null {
  const rules = ROOM_VERSIONS[version];
  const { pdu } = event;
  if (pdu.type === M_ROOM_CREATE) return checkCreateEvent(rules, pdu);

  const create = stateEvent(authState, M_ROOM_CREATE);
  if (!create) return "no m.room.create event among the auth events";
  const roomCheck = checkRoomOfAuthEvents(rules, version, pdu, authState, create);
  if (roomCheck) return roomCheck;

  if (create.pdu.content["m.federate"] === false && serverNameOf(pdu.sender) !== serverNameOf(create.pdu.sender)) {
    return "room is not federated (m.federate is false) and the sender is on another server";
  }
  if (pdu.type === M_ROOM_MEMBER) return checkMembershipEvent(rules, event, authState);

  if (membershipOf(authState, pdu.sender) !== "join") return "sender is not joined to the room";
  const senderLevel = userLevel(rules, pdu.sender, authState);
  if (pdu.type === M_ROOM_THIRD_PARTY_INVITE) {
    return senderLevel >= namedLevel(authState, "invite") ? null : "sender's power level is below the invite level";
  }
  const required = requiredLevel(authState, pdu.type, pdu.state_key !== undefined);
  if (required > senderLevel) return `sender's power level ${senderLevel} is below the ${required} required for ${pdu.type}`;
  if (pdu.state_key?.startsWith("@") && pdu.state_key !== pdu.sender) {
    return "state_key starting with '@' must be the sender's user id";
  }
  if (pdu.type === M_ROOM_POWER_LEVELS) return checkPowerLevelsEvent(rules, event, authState);
  return null;
}

/** The rules for type `m.room.create` (rule 1). */
function checkCreateEvent(rules: RoomVersion, pdu: Pdu): string | null {
  if (pdu.prev_events.length > 0) return "m.room.create must not have prev_events";
  if (rules.roomIdFromCreateEvent) {
    if (pdu.room_id !== undefined) return "m.room.create must not have a room_id: it is derived from the event id";
  } else {
    const roomServer = pdu.room_id === undefined ? null : serverNameOf(pdu.room_id);
    if (roomServer === null || roomServer !== serverNameOf(pdu.sender)) {
      return "the room_id's server name does not match the sender's";
    }
  }
  const roomVersion = pdu.content["room_version"];
  // "Recognised" can only mean the versions this server implements: it cannot apply any other version's rules.
  const recognised = typeof roomVersion === "string" && isSupportedRoomVersion(roomVersion);
  if (roomVersion !== undefined && !recognised) return "content.room_version is not a recognised version";
  if (rules.createContentHasCreator && pdu.content["creator"] === undefined) return "m.room.create has no content.creator";
  const additional = pdu.content["additional_creators"];
  if (rules.creatorsHavePower && additional !== undefined) {
    const valid = Array.isArray(additional) && additional.every((user) => typeof user === "string" && isValidUserId(user));
    if (!valid) return "content.additional_creators is not an array of user ids";
  }
  return null;
}

/**
 * The checks on the auth events that the map can show (rule 2 in v10/v11; rules 2 and 3 in v12): the room id
 * belongs to the create event, and every event the rules will read is in the same room. Duplicate and unexpected
 * entries are invisible in a map; `checkAuthEvents` checks those on the list itself.
 */
function checkRoomOfAuthEvents(
  rules: RoomVersion,
  version: RoomVersionId,
  pdu: Pdu,
  authState: AuthState,
  create: AuthEvent,
): string | null {
  if (pdu.room_id === undefined) return "event has no room_id";
  if (rules.roomIdFromCreateEvent && pdu.room_id !== `!${create.event_id.slice(1)}`) {
    return "room_id is not the id of the m.room.create event";
  }
  for (const [type, stateKey] of authEventTypesFor(version, pdu)) {
    const authEvent = stateEvent(authState, type, stateKey);
    if (authEvent && authEvent.pdu.room_id !== pdu.room_id) {
      return `auth event ${authEvent.event_id} is in another room`;
    }
  }
  return null;
}

/**
 * Checks the list of an event's auth events (rule 2 in v10/v11, rule 3 in v12): no duplicate (type, state_key)
 * pairs, nothing outside the auth events selection (which in v12 excludes m.room.create), an m.room.create before
 * v12, and all in the event's room. `authEvents` are the events named by `pdu.auth_events`, none of them rejected.
 */
export function checkAuthEvents(version: RoomVersionId, event: AuthEvent, authEvents: readonly AuthEvent[]): string | null {
  const { pdu } = event;
  if (pdu.type === M_ROOM_CREATE) return null;
  const selected = new Set(authEventTypesFor(version, pdu).map(([type, stateKey]) => stateKeyOf(type, stateKey)));
  const seen = new Set<string>();
  for (const authEvent of authEvents) {
    const { type, state_key: stateKey, room_id: roomId } = authEvent.pdu;
    const key = stateKeyOf(type, stateKey ?? "");
    if (stateKey === undefined || !selected.has(key)) return `auth event ${authEvent.event_id} (${type}) is not expected`;
    if (seen.has(key)) return `duplicate auth events for (${type}, ${stateKey})`;
    seen.add(key);
    if (roomId !== pdu.room_id) return `auth event ${authEvent.event_id} is in another room`;
  }
  if (!ROOM_VERSIONS[version].roomIdFromCreateEvent && !seen.has(stateKeyOf(M_ROOM_CREATE, ""))) {
    return "no m.room.create event among the auth events";
  }
  return null;
}

/**
 * Which (type, state_key) pairs an event of this kind needs as auth events (the spec's "auth events selection"),
 * so the room server can pick auth_events for a new event.
 */
export function authEventTypesFor(
  version: RoomVersionId,
  event: Pick<Pdu, "type" | "state_key" | "sender" | "content">,
): Array<[string, string]> {
  if (event.type === M_ROOM_CREATE) return [];
  const wanted: Array<[string, string]> = [];
  if (!ROOM_VERSIONS[version].roomIdFromCreateEvent) wanted.push([M_ROOM_CREATE, ""]);
  wanted.push([M_ROOM_POWER_LEVELS, ""], [M_ROOM_MEMBER, event.sender]);

  if (event.type === M_ROOM_MEMBER && event.state_key !== undefined) {
    const { content } = event;
    const membership = content["membership"];
    wanted.push([M_ROOM_MEMBER, event.state_key]);
    if (membership === "join" || membership === "invite" || membership === "knock") wanted.push([M_ROOM_JOIN_RULES, ""]);
    const token = thirdPartyInviteToken(content);
    if (membership === "invite" && token !== null) wanted.push([M_ROOM_THIRD_PARTY_INVITE, token]);
    // Every version here supports restricted rooms.
    const via = content["join_authorised_via_users_server"];
    if (membership === "join" && typeof via === "string") wanted.push([M_ROOM_MEMBER, via]);
  }
  // The sender may be the target or the authorising user; each pair is listed once.
  const unique = new Map(wanted.map(([type, stateKey]) => [stateKeyOf(type, stateKey), [type, stateKey] as [string, string]]));
  return [...unique.values()];
}

function thirdPartyInviteToken(content: Record<string, unknown>): string | null {
  const invite = content["third_party_invite"];
  if (typeof invite !== "object" || invite === null) return null;
  const signed = (invite as Record<string, unknown>)["signed"];
  if (typeof signed !== "object" || signed === null) return null;
  const token = (signed as Record<string, unknown>)["token"];
  return typeof token === "string" ? token : null;
}

/** Effective power level of a user, including v12 creators (infinite => Number.POSITIVE_INFINITY) */
export function userPowerLevel(version: RoomVersionId, userId: string, authState: ReadonlyMap<string, AuthEvent>): number {
  return userLevel(ROOM_VERSIONS[version], userId, authState);
}

/** Power level required to send an event of this type (state or not). */
export function requiredPowerLevel(
  version: RoomVersionId,
  type: string,
  isState: boolean,
  authState: ReadonlyMap<string, AuthEvent>,
): number {
  // Versions 10-12 agree on this; `version` keeps the call shape of the other entry points.
  return requiredLevel(authState, type, isState);
}

/** The event a redaction redacts: `content.redacts` from v11, the top-level `redacts` in v10. */
export function redactsOf(version: RoomVersionId, pdu: Pdu): string | null {
  const redacts = ROOM_VERSIONS[version].redactsInContent ? pdu.content["redacts"] : pdu.redacts;
  return typeof redacts === "string" ? redacts : null;
}

/**
 * "Handling redactions": whether an accepted redaction should be applied to `original` (and sent to clients).
 * The auth rules never look at the *redact level*; this does. Returns null to apply it, else why to wait.
 * `authState` is the state at the redaction.
 */
export function checkRedaction(
  version: RoomVersionId,
  redaction: AuthEvent,
  original: AuthEvent,
  authState: ReadonlyMap<string, AuthEvent>,
): string | null {
  if (redactsOf(version, redaction.pdu) !== original.event_id) return "redaction does not target this event";
  if (original.pdu.room_id !== redaction.pdu.room_id) return "redaction and event are in different rooms";
  if (userPowerLevel(version, redaction.pdu.sender, authState) >= namedLevel(authState, "redact")) return null;
  // Event ids carry no server name since v3, so the original's sender stands for its origin.
  const sameServer = serverNameOf(redaction.pdu.sender) === serverNameOf(original.pdu.sender);
  return sameServer ? null : "sender's power level is below the redact level and the event is from another server";
}
