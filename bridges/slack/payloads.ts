import { z } from "zod";

/**
 * What the bridge reads of Slack's payloads (zod: nothing from the network is used unchecked). Events API
 * envelopes (https://api.slack.com/apis/events-api) and the Web API answers of the methods the bridge calls.
 */

export const UrlVerification = z.object({ type: z.literal("url_verification"), challenge: z.string() });

/** A `message` event: plain messages have no subtype; edits, deletions, joins ... have one (not bridged yet). */
export const MessageEvent = z.object({
  type: z.literal("message"),
  subtype: z.string().optional(),
  channel: z.string(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().default(""),
  ts: z.string().regex(/^\d+\.\d+$/),
  thread_ts: z.string().optional(),
});
export type MessageEvent = z.infer<typeof MessageEvent>;

export const EventCallback = z.object({
  type: z.literal("event_callback"),
  team_id: z.string(),
  event_id: z.string().min(1),
  event_time: z.number().optional(),
  event: z.looseObject({ type: z.string() }),
});
export type EventCallback = z.infer<typeof EventCallback>;

/** Every envelope: the two the bridge acts on, and any other (app_rate_limited ...) which it acknowledges. */
export const Envelope = z.union([UrlVerification, EventCallback, z.looseObject({ type: z.string() })]);

export const ApiError = z.object({ ok: z.literal(false), error: z.string() });

export const AuthTest = z.object({ ok: z.literal(true), team_id: z.string(), user_id: z.string(), bot_id: z.string().optional() });
export type AuthTest = z.infer<typeof AuthTest>;

export const UsersInfo = z.object({
  ok: z.literal(true),
  user: z.object({
    id: z.string(),
    name: z.string(),
    real_name: z.string().optional(),
    profile: z.object({ display_name: z.string().optional(), real_name: z.string().optional() }).optional(),
  }),
});
export type SlackUser = z.infer<typeof UsersInfo>["user"];

export const ConversationsInfo = z.object({
  ok: z.literal(true),
  channel: z.object({
    id: z.string(),
    name: z.string().optional(),
    is_im: z.boolean().optional(),
    topic: z.object({ value: z.string() }).optional(),
    purpose: z.object({ value: z.string() }).optional(),
  }),
});
export type SlackChannel = z.infer<typeof ConversationsInfo>["channel"];

export const PostMessage = z.object({ ok: z.literal(true), channel: z.string(), ts: z.string() });

/** The name Slack shows for a user: their display name, else their real name, else their handle. */
export function slackDisplayName(user: SlackUser): string {
  const display = user.profile?.display_name?.trim();
  if (display) return display;
  return user.profile?.real_name?.trim() || user.real_name?.trim() || user.name;
}
