import { z } from "zod";

/**
 * What the bridge reads of Slack's payloads (zod: nothing from the network is used unchecked). Events API
 * envelopes (https://api.slack.com/apis/events-api), Socket Mode frames (https://api.slack.com/apis/socket-mode)
 * and the Web API answers of the methods the bridge calls.
 */

export const UrlVerification = z.object({ type: z.literal("url_verification"), challenge: z.string() });

const Ts = z.string().regex(/^\d+\.\d+$/);

/** A file shared in a message (https://api.slack.com/types/file); `url_private` needs the token to download. */
export const SlackFile = z.object({
  id: z.string(),
  name: z.string().optional(),
  title: z.string().optional(),
  mimetype: z.string().optional(),
  size: z.number().optional(),
  url_private: z.string().optional(),
  url_private_download: z.string().optional(),
  original_w: z.number().optional(),
  original_h: z.number().optional(),
});
export type SlackFile = z.infer<typeof SlackFile>;

/** The message fields the bridge reads, in events, in `message_changed.message` and in conversations.history. */
export const SlackMessage = z.object({
  type: z.literal("message"),
  subtype: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().default(""),
  ts: Ts,
  thread_ts: z.string().optional(),
  files: z.array(SlackFile).optional(),
  /** Block Kit blocks: `rich_text` ones are what the person typed, formatted (s2m/rich-text.ts). */
  blocks: z.array(z.unknown()).optional(),
  edited: z.object({ user: z.string().optional(), ts: z.string() }).optional(),
  /** A thread's parent, in conversations.history: how many replies it has and the newest one's ts. */
  reply_count: z.number().optional(),
  latest_reply: z.string().optional(),
});
export type SlackMessage = z.infer<typeof SlackMessage>;

/** A `message` event: plain messages have no subtype; edits, deletions, joins ... have one. */
export const MessageEvent = SlackMessage.extend({
  channel: z.string(),
  channel_type: z.string().optional(),
  /** message_changed: the message as it is now. */
  message: SlackMessage.optional(),
  /** message_deleted: which message went. */
  deleted_ts: z.string().optional(),
  /** channel_name: the new name; channel_topic: the new topic. */
  name: z.string().optional(),
  topic: z.string().optional(),
});
export type MessageEvent = z.infer<typeof MessageEvent>;

/** reaction_added / reaction_removed (https://api.slack.com/events/reaction_added). */
export const ReactionEvent = z.object({
  type: z.enum(["reaction_added", "reaction_removed"]),
  user: z.string(),
  reaction: z.string(),
  item: z.object({ type: z.string(), channel: z.string().optional(), ts: z.string().optional() }),
  event_ts: Ts,
});
export type ReactionEvent = z.infer<typeof ReactionEvent>;

/**
 * member_joined_channel / member_left_channel (https://api.slack.com/events/member_joined_channel): a user joined or
 * left a conversation the bot is in. `event_ts` is not in every delivery; the envelope's `event_time` stands in.
 */
export const MemberEvent = z.object({
  type: z.enum(["member_joined_channel", "member_left_channel"]),
  user: z.string(),
  channel: z.string(),
  event_ts: Ts.optional(),
});
export type MemberEvent = z.infer<typeof MemberEvent>;

/** channel_rename / group_rename (https://api.slack.com/events/channel_rename): the conversation's new name. */
export const RenameEvent = z.object({
  type: z.enum(["channel_rename", "group_rename"]),
  channel: z.object({ id: z.string(), name: z.string() }),
});

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

/** A Socket Mode frame: `hello`, `disconnect`, or an envelope (events_api, ...) to acknowledge by its id. */
export const SocketFrame = z.looseObject({
  type: z.string(),
  envelope_id: z.string().optional(),
  payload: z.unknown().optional(),
  reason: z.string().optional(),
});

export const ApiError = z.object({ ok: z.literal(false), error: z.string() });

export const AuthTest = z.object({ ok: z.literal(true), team_id: z.string(), user_id: z.string(), bot_id: z.string().optional() });
export type AuthTest = z.infer<typeof AuthTest>;

export const UsersInfo = z.object({
  ok: z.literal(true),
  user: z.object({
    id: z.string(),
    name: z.string(),
    real_name: z.string().optional(),
    profile: z
      .object({
        display_name: z.string().optional(),
        real_name: z.string().optional(),
        image_192: z.string().optional(),
        image_512: z.string().optional(),
        image_original: z.string().optional(),
      })
      .optional(),
  }),
});
export type SlackUser = z.infer<typeof UsersInfo>["user"];

/** user_change (https://api.slack.com/events/user_change): a workspace member's profile changed (name, avatar, status...). */
export const UserChangeEvent = z.object({ type: z.literal("user_change"), user: UsersInfo.shape.user });

export const ConversationsInfo = z.object({
  ok: z.literal(true),
  channel: z.object({
    id: z.string(),
    name: z.string().optional(),
    is_im: z.boolean().optional(),
    is_mpim: z.boolean().optional(),
    /** A DM's other member. */
    user: z.string().optional(),
    topic: z.object({ value: z.string() }).optional(),
    purpose: z.object({ value: z.string() }).optional(),
  }),
});
export type SlackChannel = z.infer<typeof ConversationsInfo>["channel"];

export const TeamInfo = z.object({
  ok: z.literal(true),
  team: z.object({ id: z.string(), name: z.string(), icon: z.object({ image_132: z.string().optional(), image_default: z.boolean().optional() }).optional() }),
});
export type SlackTeam = z.infer<typeof TeamInfo>["team"];

/** conversations.history / conversations.replies: newest first (history), a page at a time. */
export const MessagePage = z.object({
  ok: z.literal(true),
  messages: z.array(z.looseObject({ type: z.string(), ts: z.string() })),
  has_more: z.boolean().optional(),
  response_metadata: z.object({ next_cursor: z.string().optional() }).optional(),
});

/** oauth.v2.access: the bot token, and the installing person's user token when user scopes were asked for. */
export const OAuthAccess = z.object({
  ok: z.literal(true),
  access_token: z.string().startsWith("xoxb-"),
  bot_user_id: z.string().optional(),
  team: z.object({ id: z.string(), name: z.string() }),
  authed_user: z.object({ id: z.string(), access_token: z.string().startsWith("xoxp-").optional() }).optional(),
});
export type OAuthAccess = z.infer<typeof OAuthAccess>;

export const PostMessage = z.object({ ok: z.literal(true), channel: z.string(), ts: z.string() });
export const Ok = z.object({ ok: z.literal(true) });
export const EmojiList = z.object({ ok: z.literal(true), emoji: z.record(z.string(), z.string()) });
export const ConnectionsOpen = z.object({ ok: z.literal(true), url: z.string() });
export const UploadUrl = z.object({ ok: z.literal(true), upload_url: z.string(), file_id: z.string() });
export const FilesInfo = z.object({
  ok: z.literal(true),
  file: z.object({
    id: z.string(),
    shares: z
      .object({
        public: z.record(z.string(), z.array(z.object({ ts: z.string() }))).optional(),
        private: z.record(z.string(), z.array(z.object({ ts: z.string() }))).optional(),
      })
      .optional(),
  }),
});
export type SlackFileInfo = z.infer<typeof FilesInfo>["file"];

/** The name Slack shows for a user: their display name, else their real name, else their handle. */
export function slackDisplayName(user: SlackUser): string {
  const display = user.profile?.display_name?.trim();
  if (display) return display;
  return user.profile?.real_name?.trim() || user.real_name?.trim() || user.name;
}

/** A user's avatar: the largest image Slack lists. */
export function slackAvatarUrl(user: SlackUser): string | undefined {
  return user.profile?.image_512 ?? user.profile?.image_192 ?? user.profile?.image_original;
}
