/**
 * Power levels, room creators, and the state lookups every authorization rule shares
 * (spec: rooms/v10..v12 "Authorisation rules"; server-server "Definitions"; m.room.power_levels for the defaults).
 * Pure; no I/O. Version differences come in as a `RoomVersion` row of room-versions.ts.
 */
import type { StoredPdu as AuthEvent } from "./pdu";
import type { RoomVersion } from "./room-versions";

/** A key of the auth state: event type and state key joined by NUL, which neither may contain. */
export type StateKey = `${string}\u0000${string}`;
/** Events by `stateKeyOf(type, state_key)`: an event's auth events, or a room state. */
export type AuthState = ReadonlyMap<string, AuthEvent>;

export const M_ROOM_CREATE = "m.room.create";
export const M_ROOM_MEMBER = "m.room.member";
export const M_ROOM_POWER_LEVELS = "m.room.power_levels";
export const M_ROOM_JOIN_RULES = "m.room.join_rules";
export const M_ROOM_THIRD_PARTY_INVITE = "m.room.third_party_invite";

export function stateKeyOf(type: string, stateKey: string): StateKey {
  return `${type}\u0000${stateKey}`;
}

export function stateEvent(state: AuthState, type: string, stateKey = ""): AuthEvent | undefined {
  return state.get(stateKeyOf(type, stateKey));
}

/** The user's current `membership`, or null when they have no m.room.member event. */
export function membershipOf(state: AuthState, userId: string): string | null {
  const membership = stateEvent(state, M_ROOM_MEMBER, userId)?.pdu.content["membership"];
  return typeof membership === "string" ? membership : null;
}

/** The server name of a user or (pre-v12) room id: all after the first `:`, as localparts cannot contain one. */
export function serverNameOf(id: string): string | null {
  const colon = id.indexOf(":");
  return colon < 0 ? null : id.slice(colon + 1);
}

const SERVER_NAME = /^(\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.-]{1,255})(:[0-9]{1,5})?$/;
/** In unicode mode this class only matches unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const MAX_USER_ID_BYTES = 255;

/**
 * The user id validation applied to `sender`: the historical grammar, which servers must still accept in events
 * (appendices, "Historical User IDs"): any localpart without `:`, NUL or lone surrogates, then a server name.
 */
export function isValidUserId(userId: string): boolean {
  const colon = userId.indexOf(":");
  if (!userId.startsWith("@") || colon < 0 || !SERVER_NAME.test(userId.slice(colon + 1))) return false;
  const localpart = userId.slice(1, colon);
  if (localpart.includes("\u0000") || LONE_SURROGATE.test(localpart)) return false;
  return new TextEncoder().encode(userId).byteLength <= MAX_USER_ID_BYTES;
}

/** The single creator of v10 (`content.creator`) and v11+ (`sender`) rooms: the one who may join first. */
export function creatorOf(rules: RoomVersion, create: AuthEvent): string | null {
  if (!rules.createContentHasCreator) return create.pdu.sender;
  const creator = create.pdu.content["creator"];
  return typeof creator === "string" ? creator : null;
}

/** v12 room creators: the create event's `sender` plus its `additional_creators`. */
export function roomCreators(create: AuthEvent): Set<string> {
  const creators = new Set([create.pdu.sender]);
  const additional = create.pdu.content["additional_creators"];
  if (Array.isArray(additional)) for (const user of additional) if (typeof user === "string") creators.add(user);
  return creators;
}

/** Values a v10+ power levels event may carry: integers within canonical JSON's range. */
export function isPowerLevelValue(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function levelOr(value: unknown, fallback: number): number {
  return isPowerLevelValue(value) ? value : fallback;
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export type NamedLevel = "invite" | "kick" | "ban" | "redact";
/** The invite level defaults to 0; kick, ban and redact to 50 (server-server "Definitions"). */
const NAMED_LEVEL_DEFAULTS: Record<NamedLevel, number> = { invite: 0, kick: 50, ban: 50, redact: 50 };

/** The *invite level*, *kick level*, *ban level* or *redact level*. */
export function namedLevel(state: AuthState, name: NamedLevel): number {
  const content = stateEvent(state, M_ROOM_POWER_LEVELS)?.pdu.content ?? {};
  return levelOr(content[name], NAMED_LEVEL_DEFAULTS[name]);
}

/** The event type's *required power level*: `events[type]`, else `state_default` (50) or `events_default` (0). */
export function requiredLevel(state: AuthState, type: string, isState: boolean): number {
  const content = stateEvent(state, M_ROOM_POWER_LEVELS)?.pdu.content ?? {};
  const byType = objectOrEmpty(content["events"])[type];
  const fallback = isState ? levelOr(content["state_default"], 50) : levelOr(content["events_default"], 0);
  return levelOr(byType, fallback);
}

/**
 * A user's power level: infinite for v12 creators; else `users[userId]`, then `users_default` (0). Without a power
 * levels event, v10/v11 give the creator 100, as the room could otherwise not be set up.
 */
export function userLevel(rules: RoomVersion, userId: string, state: AuthState): number {
  const create = stateEvent(state, M_ROOM_CREATE);
  if (rules.creatorsHavePower && create && roomCreators(create).has(userId)) return Number.POSITIVE_INFINITY;
  const powerLevels = stateEvent(state, M_ROOM_POWER_LEVELS);
  if (!powerLevels) {
    return !rules.creatorsHavePower && create && creatorOf(rules, create) === userId ? 100 : 0;
  }
  const content = powerLevels.pdu.content;
  return levelOr(objectOrEmpty(content["users"])[userId], levelOr(content["users_default"], 0));
}

/** Top-level levels whose alteration the sender must outrank (rules 9.1 and 9.5; 10.1 and 10.6 in v12). */
const TOP_LEVEL_PROPERTIES = [
  "users_default",
  "events_default",
  "state_default",
  "ban",
  "redact",
  "kick",
  "invite",
] as const;

/** Rules 9.1-9.3 (10.1-10.3 in v12): the shape of the new content, which v10 made integer-only. */
function checkPowerLevelsShape(content: Record<string, unknown>): string | null {
  for (const property of TOP_LEVEL_PROPERTIES) {
    if (content[property] !== undefined && !isPowerLevelValue(content[property])) {
      return `power levels: '${property}' is not an integer`;
    }
  }
  for (const property of ["events", "notifications", "users"] as const) {
    const value = content[property];
    if (value === undefined) continue;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `power levels: '${property}' is not an object`;
    }
    for (const [key, level] of Object.entries(value)) {
      if (!isPowerLevelValue(level)) return `power levels: '${property}.${key}' is not an integer`;
      if (property === "users" && !isValidUserId(key)) return `power levels: '${key}' in 'users' is not a user id`;
    }
  }
  return null;
}

/** For each entry added, changed or removed between two maps: its old and new values (undefined when absent). */
function alterations(before: unknown, after: unknown): Array<[string, unknown, unknown]> {
  const old = objectOrEmpty(before);
  const next = objectOrEmpty(after);
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  return [...keys].filter((key) => old[key] !== next[key]).map((key) => [key, old[key], next[key]]);
}

/** The rules for type `m.room.power_levels` (rule 9 in v10/v11, rule 10 in v12). */
export function checkPowerLevelsEvent(rules: RoomVersion, event: AuthEvent, state: AuthState): string | null {
  const content = event.pdu.content;
  const shape = checkPowerLevelsShape(content);
  if (shape) return shape;

  const create = stateEvent(state, M_ROOM_CREATE);
  if (rules.creatorsHavePower && create) {
    const users = objectOrEmpty(content["users"]);
    for (const creator of roomCreators(create)) {
      if (creator in users) return `power levels: room creator ${creator} cannot be listed in 'users'`;
    }
  }

  const previous = stateEvent(state, M_ROOM_POWER_LEVELS);
  if (!previous) return null;
  const before = previous.pdu.content;
  const senderLevel = userLevel(rules, event.pdu.sender, state);
  // Absent values are not replaced by defaults here: only the values written in the events are compared.
  const withinSenderLevel = (value: unknown): boolean => typeof value !== "number" || value <= senderLevel;

  for (const property of TOP_LEVEL_PROPERTIES) {
    const [old, next] = [before[property], content[property]];
    if (old === next) continue;
    if (!withinSenderLevel(old) || !withinSenderLevel(next)) {
      return `power levels: sender's level ${senderLevel} is too low to change '${property}'`;
    }
  }
  for (const property of ["events", "notifications"] as const) {
    for (const [key, old, next] of alterations(before[property], content[property])) {
      if (!withinSenderLevel(old) || !withinSenderLevel(next)) {
        return `power levels: sender's level ${senderLevel} is too low to change '${property}.${key}'`;
      }
    }
  }
  for (const [user, old, next] of alterations(before["users"], content["users"])) {
    // Users may lower their own level, but not change a peer's: hence >= for others' current values.
    if (user !== event.pdu.sender && typeof old === "number" && old >= senderLevel) {
      return `power levels: sender's level ${senderLevel} is not above ${user}'s level ${old}`;
    }
    if (!withinSenderLevel(next)) return `power levels: sender's level ${senderLevel} is below the new level of ${user}`;
  }
  return null;
}
