import type { PushAction, PushCondition, PushRule, PushRuleset } from "./types";
import { RULE_KINDS } from "./types";

/**
 * The push rule evaluator (Client-Server API, "Push Rules"): pure, no I/O. The caller gathers what the conditions
 * need about the room (member count, the user's display name, power levels) into a PushContext.
 */

/** An event as push rules see it: the client format's top-level keys (type, sender, state_key, room_id, content). */
export type PushEvent = Record<string, unknown>;

export interface PushContext {
  /** The user the rules belong to. */
  userId: string;
  /** Their display name in the room (m.room.member content), for `contains_display_name`. */
  displayName: string | null;
  /** Joined members of the room, for `room_member_count`. */
  memberCount: number;
  /** The sender's power level, and the power levels' `notifications` object, for `sender_notification_permission`. */
  senderPowerLevel: number;
  notificationLevels: Record<string, unknown>;
}

export interface PushOutcome {
  ruleId: string;
  /** The matching rule's actions, without the historical `dont_notify` and `coalesce`. */
  actions: PushAction[];
  notify: boolean;
  highlight: boolean;
}

/** The spec's default power level needed to trigger a notification of a given kind (`room`: 50). */
const DEFAULT_NOTIFICATION_LEVEL = 50;
const HISTORICAL_ACTIONS = new Set(["dont_notify", "coalesce"]);

/**
 * Splits a dot-separated property path: `\.` is a literal dot and `\\` a literal backslash; any other backslash is
 * kept as is (appendix "Dot-separated property paths").
 */
export function splitKeyPath(key: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    const next = key[i + 1];
    if (ch === "\\" && (next === "." || next === "\\")) {
      current += next;
      i++;
    } else if (ch === ".") {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at a dotted path, or undefined when any step is absent or not an object. */
export function valueAtPath(event: PushEvent, key: string): unknown {
  let current: unknown = event;
  for (const part of splitKeyPath(key)) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** A glob (`*` any run, `?` one character) as a regular expression source. */
function globSource(pattern: string): string {
  let source = "";
  for (const ch of pattern) {
    if (ch === "*") source += "[\\s\\S]*";
    else if (ch === "?") source += "[\\s\\S]";
    else source += escapeRegExp(ch);
  }
  return source;
}

/** Word boundaries for `content.body` matches: the ends of the value or any character outside [A-Za-z0-9_]. */
const wordBounded = (source: string) => new RegExp(`(?:^|[^A-Za-z0-9_])(?:${source})(?:[^A-Za-z0-9_]|$)`, "iu");

/** Glob match, case-insensitive: of the whole value, or (`wordBoundary`) of any word-bounded substring. */
export function globMatches(pattern: string, value: string, wordBoundary: boolean): boolean {
  const source = globSource(pattern);
  const re = wordBoundary ? wordBounded(source) : new RegExp(`^(?:${source})$`, "iu");
  return re.test(value);
}

/** Non-compound canonical JSON values: what `event_property_is` / `_contains` compare. */
function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isSafeInteger(value));
}

/** `room_member_count`'s `is`: an optional `==`, `<`, `>`, `<=` or `>=` and a decimal integer. */
export function memberCountMatches(is: unknown, count: number): boolean {
  if (typeof is !== "string") return false;
  const match = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!match) return false;
  const n = Number(match[2]);
  switch (match[1] ?? "==") {
    case "<":
      return count < n;
    case ">":
      return count > n;
    case "<=":
      return count <= n;
    case ">=":
      return count >= n;
    default:
      return count === n;
  }
}

function notificationLevel(levels: Record<string, unknown>, key: string): number {
  const level = levels[key];
  return typeof level === "number" && Number.isInteger(level) ? level : DEFAULT_NOTIFICATION_LEVEL;
}

/** Whether one condition holds; unknown kinds and malformed conditions never match. */
export function conditionMatches(condition: PushCondition, event: PushEvent, ctx: PushContext): boolean {
  switch (condition.kind) {
    case "event_match": {
      const { key, pattern } = condition;
      if (typeof key !== "string" || typeof pattern !== "string") return false;
      const value = valueAtPath(event, key);
      return typeof value === "string" && globMatches(pattern, value, key === "content.body");
    }
    case "event_property_is": {
      const { key, value } = condition;
      if (typeof key !== "string" || !isScalar(value)) return false;
      const actual = valueAtPath(event, key);
      return isScalar(actual) && actual === value;
    }
    case "event_property_contains": {
      const { key, value } = condition;
      if (typeof key !== "string" || !isScalar(value)) return false;
      const actual = valueAtPath(event, key);
      return Array.isArray(actual) && actual.some((item) => isScalar(item) && item === value);
    }
    case "contains_display_name": {
      const body = valueAtPath(event, "content.body");
      const name = ctx.displayName;
      if (typeof body !== "string" || !name) return false;
      return wordBounded(escapeRegExp(name)).test(body);
    }
    case "room_member_count":
      return memberCountMatches(condition["is"], ctx.memberCount);
    case "sender_notification_permission": {
      const { key } = condition;
      return typeof key === "string" && ctx.senderPowerLevel >= notificationLevel(ctx.notificationLevels, key);
    }
    default:
      return false;
  }
}

/** The conditions a rule of each kind stands for: content, room and sender rules have predefined ones. */
function ruleMatches(kind: (typeof RULE_KINDS)[number], rule: PushRule, event: PushEvent, ctx: PushContext): boolean {
  switch (kind) {
    case "content":
      return rule.pattern !== undefined && conditionMatches({ kind: "event_match", key: "content.body", pattern: rule.pattern }, event, ctx);
    case "room":
      return event["room_id"] === rule.rule_id;
    case "sender":
      return event["sender"] === rule.rule_id;
    default:
      return (rule.conditions ?? []).every((c) => conditionMatches(c, event, ctx));
  }
}

/** Whether the actions highlight: a `highlight` tweak with no value, or with the value true. */
function highlights(actions: PushAction[]): boolean {
  return actions.some((a) => typeof a === "object" && a.set_tweak === "highlight" && (a.value === undefined || a.value === true));
}

/**
 * The first enabled rule that matches, in kind order (override, content, room, sender, underride) and rule order
 * within a kind, with its actions; null when none matches (then there is no notification).
 */
export function evaluatePushRules(ruleset: PushRuleset, event: PushEvent, ctx: PushContext): PushOutcome | null {
  for (const kind of RULE_KINDS) {
    for (const rule of ruleset[kind]) {
      if (!rule.enabled || !ruleMatches(kind, rule, event, ctx)) continue;
      const actions = rule.actions.filter((a) => !(typeof a === "string" && HISTORICAL_ACTIONS.has(a)));
      return { ruleId: rule.rule_id, actions, notify: actions.includes("notify"), highlight: highlights(actions) };
    }
  }
  return null;
}
