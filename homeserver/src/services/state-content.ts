import { z } from "zod";
import { badJson } from "../http/errors";

const int = z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1);
const userLevels = z.record(z.string(), int);

/**
 * Content schemas of the state events whose shape the server relies on (auth rules, room summaries). A client
 * sending, say, a numeric room name gets M_BAD_JSON instead of corrupting what everyone else reads.
 */
const STATE_CONTENT: Record<string, z.ZodType> = {
  "m.room.name": z.looseObject({ name: z.string().max(255) }),
  "m.room.topic": z.looseObject({ topic: z.string() }),
  "m.room.avatar": z.looseObject({ url: z.string().optional() }),
  "m.room.join_rules": z.looseObject({
    join_rule: z.enum(["public", "knock", "invite", "private", "restricted", "knock_restricted"]),
    allow: z.array(z.looseObject({ type: z.string() })).optional(),
  }),
  "m.room.history_visibility": z.looseObject({ history_visibility: z.enum(["invited", "joined", "shared", "world_readable"]) }),
  "m.room.guest_access": z.looseObject({ guest_access: z.enum(["can_join", "forbidden"]) }),
  "m.room.power_levels": z.looseObject({
    ban: int.optional(),
    events: userLevels.optional(),
    events_default: int.optional(),
    invite: int.optional(),
    kick: int.optional(),
    redact: int.optional(),
    state_default: int.optional(),
    users: userLevels.optional(),
    users_default: int.optional(),
    notifications: z.looseObject({ room: int.optional() }).optional(),
  }),
  "m.room.member": z.looseObject({
    membership: z.enum(["invite", "join", "knock", "leave", "ban"]),
    displayname: z.string().nullable().optional(),
    avatar_url: z.string().nullable().optional(),
    is_direct: z.boolean().optional(),
    reason: z.string().optional(),
  }),
  "m.room.encryption": z.looseObject({ algorithm: z.string() }),
  "m.room.canonical_alias": z.looseObject({ alias: z.string().nullable().optional(), alt_aliases: z.array(z.string()).optional() }),
};

export function checkStateContent(type: string, content: Record<string, unknown>): void {
  const schema = STATE_CONTENT[type];
  if (!schema) return;
  const result = schema.safeParse(content);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw badJson(`Invalid ${type} content at '${issue.path.join(".")}': ${issue.message}`);
  }
}
