import { z } from "zod";

/** Push rule shapes (Client-Server API, "Push Rules"), as stored in `m.push_rules` and served by /pushrules. */

export const RULE_KINDS = ["override", "content", "room", "sender", "underride"] as const;
export const RuleKind = z.enum(RULE_KINDS);
export type RuleKind = z.infer<typeof RuleKind>;

/** `notify`, a tweak, or an action this server does not know (kept, and ignored when evaluating). */
export const PushAction = z.union([z.string(), z.looseObject({ set_tweak: z.string(), value: z.unknown().optional() })]);
export type PushAction = z.infer<typeof PushAction>;

/** A condition: its `kind` decides which other fields it has; unknown kinds never match (spec), so any object is kept. */
export const PushCondition = z.looseObject({ kind: z.string() });
export type PushCondition = z.infer<typeof PushCondition> & Record<string, unknown>;

export const PushRule = z.object({
  rule_id: z.string(),
  default: z.boolean(),
  enabled: z.boolean(),
  actions: z.array(PushAction),
  conditions: z.array(PushCondition).optional(),
  pattern: z.string().optional(),
});
export type PushRule = z.infer<typeof PushRule>;

export type PushRuleset = Record<RuleKind, PushRule[]>;
