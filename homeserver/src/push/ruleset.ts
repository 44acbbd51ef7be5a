import { z } from "zod";
import { MatrixError, invalidParam, missingParam, notFound } from "../http/errors";
import { parseUserId } from "../services/identifiers";
import { MASTER_RULE_ID, defaultPushRules } from "./default-rules";
import { PushCondition, PushRule, type PushRuleset, RULE_KINDS, type RuleKind } from "./types";

/**
 * A user's push rules: the server defaults with the user's enabled/actions changes, plus the user's own rules.
 * Stored whole as `m.push_rules` account data (`{global: ruleset}`, the spec's model, which clients read from /sync),
 * and merged with the current defaults when read, so a server update's new default rules reach every user.
 */

/** Actions a client may set: `notify`, the historical ones (ignored when evaluating), or a tweak. */
export const ClientAction = z.union([
  z.enum(["notify", "dont_notify", "coalesce"]),
  z.looseObject({ set_tweak: z.string(), value: z.unknown().optional() }),
]);

/** The body of PUT /pushrules/global/{kind}/{ruleId}. */
export const PushRuleBody = z.object({
  actions: z.array(ClientAction),
  conditions: z.array(PushCondition).optional(),
  pattern: z.string().optional(),
});
export type PushRuleBody = z.infer<typeof PushRuleBody>;

const isServerDefault = (ruleId: string) => ruleId.startsWith(".");

/** The rule lists of a stored `m.push_rules` content: rules that do not parse are dropped, not fatal. */
function storedRules(stored: unknown): Partial<Record<RuleKind, PushRule[]>> {
  const global = z.object({ global: z.record(z.string(), z.unknown()) }).safeParse(stored);
  if (!global.success) return {};
  const out: Partial<Record<RuleKind, PushRule[]>> = {};
  for (const kind of RULE_KINDS) {
    const list = global.data.global[kind];
    if (!Array.isArray(list)) continue;
    out[kind] = list.flatMap((r) => {
      const parsed = PushRule.safeParse(r);
      return parsed.success ? [parsed.data] : [];
    });
  }
  return out;
}

/**
 * The ruleset in force: per kind, the user's rules (most important first) and then the server defaults, except that
 * `.m.rule.master` comes before everything. Defaults keep the user's `enabled` and `actions`.
 */
export function effectiveRuleset(userId: string, stored: unknown): PushRuleset {
  const defaults = defaultPushRules(userId);
  const saved = storedRules(stored);
  const ruleset = {} as PushRuleset;
  for (const kind of RULE_KINDS) {
    const own = (saved[kind] ?? []).filter((r) => !isServerDefault(r.rule_id)).map((r) => ({ ...r, default: false }));
    const changed = new Map((saved[kind] ?? []).filter((r) => isServerDefault(r.rule_id)).map((r) => [r.rule_id, r]));
    const merged = defaults[kind].map((d) => {
      const mine = changed.get(d.rule_id);
      return mine ? { ...d, enabled: mine.enabled, actions: mine.actions } : d;
    });
    const master = merged.filter((r) => r.rule_id === MASTER_RULE_ID);
    ruleset[kind] = [...master, ...own, ...merged.filter((r) => r.rule_id !== MASTER_RULE_ID)];
  }
  return ruleset;
}

export function parseKind(kind: string): RuleKind {
  const parsed = z.enum(RULE_KINDS).safeParse(kind);
  if (!parsed.success) throw invalidParam(`Unknown push rule kind '${kind}'`);
  return parsed.data;
}

/** One rule as the API shows it: conditions only for override/underride, pattern only for content. */
export function ruleForClient(kind: RuleKind, rule: PushRule): PushRule {
  const { conditions, pattern, ...rest } = rule;
  if (kind === "override" || kind === "underride") return { ...rest, conditions: conditions ?? [] };
  if (kind === "content") return pattern === undefined ? rest : { ...rest, pattern };
  return rest;
}

export function findRule(ruleset: PushRuleset, kind: RuleKind, ruleId: string): PushRule {
  const rule = ruleset[kind].find((r) => r.rule_id === ruleId);
  if (!rule) throw notFound(`No ${kind} push rule '${ruleId}'`);
  return rule;
}

/** Rule ids: no leading dot (reserved for server defaults), no slashes; room and sender rules are named by their ids. */
function checkNewRuleId(kind: RuleKind, ruleId: string): void {
  if (ruleId === "") throw invalidParam("The rule id is empty");
  if (isServerDefault(ruleId)) throw invalidParam("Rule ids starting with '.' are reserved for server-default rules");
  if (/[/\\]/.test(ruleId)) throw invalidParam("Rule ids may not contain slashes or backslashes");
  if (kind === "room" && !/^![^:]*(:.+)?$/.test(ruleId)) throw invalidParam("A room rule's id must be a room id");
  if (kind === "sender" && parseUserId(ruleId) === null) throw invalidParam("A sender rule's id must be a user id");
}

/** The index of a user-defined rule named by `before` / `after`; server-default rules cannot be anchors. */
function anchorIndex(rules: PushRule[], ruleId: string, param: string): number {
  if (isServerDefault(ruleId)) throw invalidParam(`'${param}' cannot name a server-default rule`);
  const index = rules.findIndex((r) => r.rule_id === ruleId);
  if (index < 0) throw notFound(`'${param}' names no rule '${ruleId}'`);
  return index;
}

/**
 * PUT /pushrules/global/{kind}/{ruleId}: replaces a user rule in place (keeping `enabled`) or, when new or when
 * `before`/`after` is given, places it: before `before`, after `after`, or else first among the user's rules.
 */
export function putRule(
  ruleset: PushRuleset,
  kind: RuleKind,
  ruleId: string,
  body: PushRuleBody,
  position: { before?: string | undefined; after?: string | undefined },
): PushRuleset {
  checkNewRuleId(kind, ruleId);
  if (kind === "content" && body.pattern === undefined) throw missingParam("Content rules need a 'pattern'");
  const existing = ruleset[kind].find((r) => r.rule_id === ruleId);
  const rule: PushRule = {
    rule_id: ruleId,
    default: false,
    enabled: existing?.enabled ?? true,
    actions: body.actions,
    ...(kind === "override" || kind === "underride" ? { conditions: body.conditions ?? [] } : {}),
    ...(kind === "content" ? { pattern: body.pattern! } : {}),
  };
  const rules = ruleset[kind];
  if (existing && position.before === undefined && position.after === undefined) {
    return { ...ruleset, [kind]: rules.map((r) => (r.rule_id === ruleId ? rule : r)) };
  }
  const others = rules.filter((r) => r.rule_id !== ruleId);
  let index: number;
  if (position.before !== undefined) index = anchorIndex(others, position.before, "before");
  else if (position.after !== undefined) index = anchorIndex(others, position.after, "after") + 1;
  else index = others.findIndex((r) => r.rule_id !== MASTER_RULE_ID);
  if (index < 0) index = others.length;
  return { ...ruleset, [kind]: [...others.slice(0, index), rule, ...others.slice(index)] };
}

/** DELETE /pushrules/global/{kind}/{ruleId}: user rules only; server defaults can only be disabled. */
export function deleteRule(ruleset: PushRuleset, kind: RuleKind, ruleId: string): PushRuleset {
  const rule = findRule(ruleset, kind, ruleId);
  if (rule.default) throw new MatrixError(400, "M_INVALID_PARAM", "Server-default rules cannot be deleted");
  return { ...ruleset, [kind]: ruleset[kind].filter((r) => r.rule_id !== ruleId) };
}

/** PUT .../enabled and .../actions: changes one field of an existing rule (default or not). */
export function updateRule(ruleset: PushRuleset, kind: RuleKind, ruleId: string, change: Pick<Partial<PushRule>, "enabled" | "actions">): PushRuleset {
  findRule(ruleset, kind, ruleId);
  return { ...ruleset, [kind]: ruleset[kind].map((r) => (r.rule_id === ruleId ? { ...r, ...change } : r)) };
}

/** The API's view of a ruleset: each rule shaped for its kind. */
export function rulesetForClient(ruleset: PushRuleset): PushRuleset {
  const out = {} as PushRuleset;
  for (const kind of RULE_KINDS) out[kind] = ruleset[kind].map((r) => ruleForClient(kind, r));
  return out;
}
