import { effectiveRuleset, rulesetForClient } from "../push/ruleset";
import type { PushRuleset } from "../push/types";
import { getGlobalAccountDataOfUsers } from "../storage/account-data";
import { wakeUser } from "../sync/wake";
import { findAccountData, setServerAccountData } from "./account-data";

/**
 * Push rules are the `m.push_rules` global account data (the spec's model), written only here: the account data API
 * refuses that type. Edits are read-modify-write of the whole ruleset; only the owner's own devices write it.
 */
const PUSH_RULES = "m.push_rules";
const IGNORED_USERS = "m.ignored_user_list";

export { defaultPushRules } from "../push/default-rules";

/** The user's rules in force (defaults merged with their changes). */
export async function getPushRules(db: D1Database, userId: string): Promise<PushRuleset> {
  return effectiveRuleset(userId, await findAccountData(db, userId, null, PUSH_RULES));
}

/** Applies one edit and stores the result, which /sync then sends as `m.push_rules` account data. */
export async function changePushRules(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, userId: string, edit: (ruleset: PushRuleset) => PushRuleset): Promise<void> {
  const updated = edit(await getPushRules(env.DB, userId));
  const position = await setServerAccountData(env.DB, userId, null, PUSH_RULES, { global: rulesetForClient(updated) });
  ctx.waitUntil(wakeUser(env, userId, position));
}

/** The `m.push_rules` content /sync sends to a client that has never changed its rules. */
export function pushRulesAccountData(userId: string): { type: string; content: Record<string, unknown> } {
  return { type: PUSH_RULES, content: { global: rulesetForClient(effectiveRuleset(userId, null)) } };
}

export interface MemberPushSettings {
  ruleset: PushRuleset;
  ignored: ReadonlySet<string>;
}

/** Push rules and ignore lists of several users in one read, for evaluating an event for a room's members. */
export async function pushSettingsOf(db: D1Database, userIds: string[]): Promise<Map<string, MemberPushSettings>> {
  const rows = await getGlobalAccountDataOfUsers(db, userIds, [PUSH_RULES, IGNORED_USERS]);
  const stored = new Map<string, { rules?: unknown; ignored?: unknown }>();
  for (const row of rows) {
    const entry = stored.get(row.user_id) ?? {};
    const content: unknown = JSON.parse(row.content);
    if (row.type === PUSH_RULES) entry.rules = content;
    else entry.ignored = content;
    stored.set(row.user_id, entry);
  }
  const settings = new Map<string, MemberPushSettings>();
  for (const userId of userIds) {
    const entry = stored.get(userId);
    settings.set(userId, { ruleset: effectiveRuleset(userId, entry?.rules ?? null), ignored: ignoredIn(entry?.ignored) });
  }
  return settings;
}

function ignoredIn(content: unknown): Set<string> {
  if (typeof content !== "object" || content === null) return new Set();
  const users = (content as { ignored_users?: unknown }).ignored_users;
  return new Set(typeof users === "object" && users !== null ? Object.keys(users) : []);
}
