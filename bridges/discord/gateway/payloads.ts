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
  /** The avatar's hash (CDN `avatars/{user.id}/{hash}.png`). */
  avatar: z.string().nullish(),
});

/** An embed, as far as it is shown as text (Discord's "Embed Object"). */
export const Embed = z.object({
  type: z.string().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  url: z.string().optional(),
  author: z.object({ name: z.string() }).optional(),
  fields: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
  footer: z.object({ text: z.string() }).optional(),
});

/** What the bridge reads of MESSAGE_CREATE (a message object plus guild_id). */
export const MessageCreate = z.object({
  id: z.string(),
  channel_id: z.string(),
  guild_id: z.string().optional(),
  author: Author,
  /** In a guild: the author's member, with their server nickname. */
  member: z.object({ nick: z.string().nullish() }).optional(),
  content: z.string(),
  timestamp: z.string(),
  webhook_id: z.string().optional(),
  /** What the poster sent as `nonce` (MESSAGE_CREATE only): the bridge's own posts as a user carry its own. */
  nonce: z.union([z.string(), z.number()]).nullish(),
  mentions: z.array(Author).default([]),
  mention_roles: z.array(z.string()).default([]),
  /** @everyone or @here pinged the channel. */
  mention_everyone: z.boolean().default(false),
  embeds: z.array(Embed).default([]),
  sticker_items: z.array(z.object({ id: z.string(), name: z.string() })).default([]),
  /** A reply's target (type 19); Discord also uses it for forwards and crossposts, told apart by `type`. */
  message_reference: z.object({ message_id: z.string().optional(), channel_id: z.string().optional(), type: z.number().int().optional() }).nullish(),
  attachments: z
    .array(
      z.object({
        id: z.string(),
        filename: z.string(),
        content_type: z.string().optional(),
        size: z.number().int().nonnegative(),
        url: z.string(),
        width: z.number().int().nullish(),
        height: z.number().int().nullish(),
      }),
    )
    .default([]),
});
export type MessageCreate = z.infer<typeof MessageCreate>;

/** MESSAGE_UPDATE: a partial message; an edit has content and an edited_timestamp (embed unfurls have neither). */
export const MessageUpdate = z.object({
  id: z.string(),
  channel_id: z.string(),
  author: Author.optional(),
  webhook_id: z.string().optional(),
  content: z.string().optional(),
  edited_timestamp: z.string().nullish(),
  mentions: z.array(Author).default([]),
});

/** MESSAGE_DELETE */
export const MessageDelete = z.object({ id: z.string(), channel_id: z.string(), guild_id: z.string().optional() });

/** A reaction's emoji: a unicode one (id null), or a custom one (name null when it was deleted). */
const Emoji = z.object({ id: z.string().nullable(), name: z.string().nullable(), animated: z.boolean().optional() });
const Member = z.object({ user: Author.optional(), nick: z.string().nullish() });

/** MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE (member only in guilds, and only on add). */
export const MessageReaction = z.object({
  user_id: z.string(),
  channel_id: z.string(),
  message_id: z.string(),
  emoji: Emoji,
  member: Member.optional(),
});

/**
 * GUILD_MEMBER_UPDATE (the privileged GUILD_MEMBERS intent): a member's nickname, or their user's name or avatar,
 * changed. The member's guild avatar is not read: messages show the user's own avatar too.
 */
export const GuildMemberUpdate = z.object({ guild_id: z.string(), user: Author, nick: z.string().nullish() });

/** CHANNEL_PINS_UPDATE: a message pinned or unpinned in a channel (which one is not said: the pins are read again). */
export const ChannelPinsUpdate = z.object({ channel_id: z.string(), guild_id: z.string().optional() });

/** TYPING_START (timestamp in Unix seconds). */
export const TypingStart = z.object({ channel_id: z.string(), user_id: z.string(), timestamp: z.number(), member: Member.optional() });

/** A channel as the gateway sends it (THREAD_CREATE, CHANNEL_UPDATE, GUILD_CREATE's lists). */
export const Channel = z.object({
  id: z.string(),
  type: z.number().int(),
  guild_id: z.string().optional(),
  name: z.string().nullish(),
  topic: z.string().nullish(),
  /** A group DM's icon hash. */
  icon: z.string().nullish(),
  position: z.number().int().optional(),
  /** A channel's category; a thread's channel. */
  parent_id: z.string().nullish(),
  /** A thread's state: an archived one gets no messages until it is unarchived (THREAD_UPDATE). */
  thread_metadata: z.object({ archived: z.boolean() }).optional(),
});

/** GUILD_CREATE: the guild with its channels, threads and roles (names for mentions). */
export const GuildCreate = z.object({
  id: z.string(),
  name: z.string(),
  icon: z.string().nullish(),
  channels: z.array(Channel).default([]),
  threads: z.array(Channel).default([]),
  roles: z.array(z.object({ id: z.string(), name: z.string() })).default([]),
});

/**
 * What READY brings beyond the session, each item checked on its own (one odd item does not lose the rest): a user
 * login's DMs and group DMs (`private_channels`) and its guilds as whole guild objects, read like GUILD_CREATE. A
 * bot's READY lists unavailable guilds only (`{id, unavailable}`, then a GUILD_CREATE each) and no DMs.
 */
export const ReadyState = z.object({ guilds: z.array(z.unknown()).default([]), private_channels: z.array(z.unknown()).default([]) });
