import { z } from "zod";

/** One gateway frame (Discord Gateway, "Payload Structure"): checked before anything reads it. */
export const GatewayFrame = z.object({
  op: z.number().int(),
  d: z.unknown().optional(),
  s: z.number().int().nullish(),
  t: z.string().nullish(),
});
export type GatewayFrame = z.infer<typeof GatewayFrame>;

export const Hello = z.object({ heartbeat_interval: z.number().positive() });
export const Ready = z.object({
  session_id: z.string(),
  resume_gateway_url: z.string(),
  user: z.object({ id: z.string(), username: z.string() }),
});

const Author = z.object({
  id: z.string(),
  username: z.string(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
});

/** What the bridge reads of MESSAGE_CREATE (a message object plus guild_id). */
export const MessageCreate = z.object({
  id: z.string(),
  channel_id: z.string(),
  guild_id: z.string().optional(),
  author: Author,
  content: z.string(),
  timestamp: z.string(),
  webhook_id: z.string().optional(),
  mentions: z.array(Author).default([]),
});
export type MessageCreate = z.infer<typeof MessageCreate>;

