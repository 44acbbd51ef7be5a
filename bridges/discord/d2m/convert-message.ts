import { type PortalKey, type RemoteMessageId, portalKey, remoteMessageId, remoteUserId } from "../../core/ids";
import type { z } from "zod";
import type { MatrixMessageContent, RemoteActor, RemoteAttachment, RemoteChange, RemoteEdit, RemoteGhostProfile, RemoteMessage, RemoteSender } from "../../core/network";
import type { Embed, GuildMemberUpdate, MessageCreate, MessageDelete, MessageReaction, MessageUpdate, TypingStart } from "../gateway/payloads";
import { type MentionResolver, renderDiscordMarkdown } from "./markdown";
import { isBridgeNonce } from "../nonce";

/** What conversion needs to know beyond the payload, injected (pure converters, no bridge state). */
export interface D2mContext {
  /** The Matrix user id of a Discord user's ghost. */
  ghostUserId(discordId: string): string;
  /** Discord's CDN (avatars, icons): https://cdn.discordapp.com, or the fake's in tests. */
  cdnBaseUrl: string;
  channelName(discordId: string): string | undefined;
  roleName(discordId: string): string | undefined;
  /** A custom emoji's uploaded image (mxc://), when the bridge has it: shown inline; else as `:name:`. */
  emojiMxc(discordId: string): string | undefined;
}

/** A custom emoji used in a message or a reaction: its image is at the CDN's `emojis/{id}.png` (`.gif` when animated). */
export interface CustomEmoji {
  id: string;
  /** Its name, without colons (`blobcat`): a reaction from Matrix names it again as `name:id`. */
  name: string;
  animated: boolean;
}

/** The custom emoji in a message's text (`<:name:id>`, `<a:name:id>`), each once. */
export function customEmojis(text: string): CustomEmoji[] {
  const found = new Map<string, CustomEmoji>();
  for (const m of text.matchAll(/<(a?):(\w+):(\d+)>/g)) found.set(m[3] ?? "", { id: m[3] ?? "", name: m[2] ?? "", animated: m[1] === "a" });
  return [...found.values()];
}

/**
 * Where a Discord channel's messages go: its own portal; or, for a thread, its parent channel's portal, as a Matrix
 * thread whose root is the thread's starter message (a thread's id is its starter message's id).
 */
export interface ChannelRoute {
  portalKey: PortalKey;
  threadId?: string;
}

export const channelRoute = (channelId: string): ChannelRoute => ({ portalKey: portalKey(channelId) });

/**
 * A message's remote id: its snowflake; inside a thread, `<thread id>/<message id>`, so the way back knows the
 * channel to edit or delete it in. The starter message of a thread (forum posts: the thread's first message, whose
 * id is the thread's) stays the root, a plain id.
 */
export function discordMessageId(route: ChannelRoute, messageId: string): RemoteMessageId {
  return remoteMessageId(route.threadId === undefined || route.threadId === messageId ? messageId : `${route.threadId}/${messageId}`);
}

/** The channel and snowflake behind a remote message id of `portal` (the inverse of discordMessageId). */
export function splitMessageId(portal: string, id: string): { channelId: string; messageId: string } {
  const slash = id.indexOf("/");
  return slash === -1 ? { channelId: portal, messageId: id } : { channelId: id.slice(0, slash), messageId: id.slice(slash + 1) };
}

/** The name Discord shows for a user: their global display name, else their username. */
export function discordDisplayName(user: { username: string; global_name?: string | null | undefined }): string {
  return user.global_name ?? user.username;
}

/** A user's avatar on the CDN, or undefined for the default avatar. */
export function avatarUrl(cdnBaseUrl: string, user: { id: string; avatar?: string | null | undefined }): string | undefined {
  return user.avatar ? `${cdnBaseUrl}/avatars/${user.id}/${user.avatar}.png` : undefined;
}

/** A message author as the portal shows them: name (the guild nickname first) and avatar. */
export function remoteSender(author: MessageCreate["author"], nick: string | null | undefined, cdnBaseUrl: string): RemoteSender {
  const avatar = avatarUrl(cdnBaseUrl, author);
  return { id: remoteUserId(author.id), displayName: nick ?? discordDisplayName(author), ...(avatar !== undefined ? { avatarUrl: avatar } : {}) };
}

/** An embed as Discord markdown lines (title linked, description, fields, footer): readable in any client. */
export function embedMarkdown(embed: z.infer<typeof Embed>): string {
  const lines: string[] = [];
  if (embed.author) lines.push(embed.author.name);
  if (embed.title !== undefined) lines.push(embed.url !== undefined ? `**[${embed.title}](${embed.url})**` : `**${embed.title}**`);
  else if (embed.url !== undefined) lines.push(embed.url);
  if (embed.description !== undefined) lines.push(embed.description);
  for (const field of embed.fields ?? []) lines.push(`**${field.name}**: ${field.value}`);
  if (embed.footer) lines.push(embed.footer.text);
  return lines.join("\n");
}

type MessageText = Pick<MessageCreate, "content" | "mentions"> & Partial<Pick<MessageCreate, "mention_everyone" | "embeds" | "sticker_items">>;

/**
 * A Discord message's text as Matrix m.text content (pure): its markdown, then its rich embeds and stickers as text,
 * with `m.mentions` naming the mentioned users' ghosts and `room` for @everyone / @here.
 */
export function messageContent(message: MessageText, ctx: D2mContext): MatrixMessageContent {
  const mentions: MentionResolver = {
    userId: (id) => ctx.ghostUserId(id),
    displayName: (id) => {
      const user = message.mentions.find((u) => u.id === id);
      return user ? discordDisplayName(user) : id;
    },
    channelName: (id) => ctx.channelName(id),
    roleName: (id) => ctx.roleName(id),
    emojiMxc: (id) => ctx.emojiMxc(id),
  };
  // Link unfurls (type link, image, article ...) are Discord's previews, not content: only bots' rich embeds count.
  const embeds = (message.embeds ?? []).filter((e) => e.type === undefined || e.type === "rich").map(embedMarkdown);
  const stickers = (message.sticker_items ?? []).map((s) => `sticker: ${s.name}`);
  const source = [message.content, ...embeds, ...stickers].filter((part) => part !== "").join("\n");
  const { body, html } = renderDiscordMarkdown(source, mentions);
  const content: MatrixMessageContent = html === undefined ? { msgtype: "m.text", body } : { msgtype: "m.text", body, format: "org.matrix.custom.html", formatted_body: html };
  const userIds = [...new Set(message.mentions.map((u) => ctx.ghostUserId(u.id)))];
  if (userIds.length > 0 || message.mention_everyone) {
    content["m.mentions"] = { ...(userIds.length > 0 ? { user_ids: userIds } : {}), ...(message.mention_everyone ? { room: true } : {}) };
  }
  return content;
}

/**
 * Who posts for the bridge: its channels' webhooks, and the bot user of a bot login (null for a user login, whose
 * own account is the person's: what they write in Discord's own client is theirs to see).
 */
export interface OwnAuthors {
  botUserId: string | null;
  webhookIds: string[];
}

/**
 * A message the bridge posted itself (the person's, from Matrix), through one of its webhooks or as its bot: never
 * bridged back, even when it is not in the portal's message map (a crash between the post and saving its row, or the
 * later parts of a long message, of which only the first is mapped).
 */
export function isOwnMessage(message: { author?: { id: string } | undefined; webhook_id?: string | undefined; nonce?: unknown }, own: OwnAuthors): boolean {
  // A user login's post from Matrix (live only: the history has no nonces).
  if (isBridgeNonce(message.nonce)) return true;
  if (message.webhook_id !== undefined) return own.webhookIds.includes(message.webhook_id);
  return message.author !== undefined && message.author.id === own.botUserId;
}

/** Whether a message has anything to show (text, embeds, stickers or files). */
export function hasContent(message: MessageCreate): boolean {
  return message.content !== "" || message.attachments.length > 0 || message.embeds.length > 0 || message.sticker_items.length > 0;
}

/** MESSAGE_CREATE (or a message from the history) as the core's RemoteMessage, in its channel's portal (pure). */
export function remoteMessage(message: MessageCreate, route: ChannelRoute, ctx: D2mContext): RemoteMessage {
  const reference = message.message_reference;
  const isReply = reference?.message_id !== undefined && (reference.type ?? 0) === 0 && (reference.channel_id ?? message.channel_id) === message.channel_id;
  const inThread = route.threadId !== undefined && route.threadId !== message.id;
  return {
    kind: "message",
    portalKey: route.portalKey,
    sender: remoteSender(message.author, message.member?.nick, ctx.cdnBaseUrl),
    messageId: discordMessageId(route, message.id),
    timestamp: Date.parse(message.timestamp),
    content: messageContent(message, ctx),
    ...(message.attachments.length > 0 ? { attachments: message.attachments.map(remoteAttachment) } : {}),
    // A reply (type 0 reference) in the same channel; forwards and crossposts are not replies.
    ...(isReply && reference?.message_id !== undefined ? { replyTo: discordMessageId(route, reference.message_id) } : {}),
    ...(inThread && route.threadId !== undefined ? { threadRoot: remoteMessageId(route.threadId) } : {}),
  };
}

/** A Discord attachment as the core's RemoteAttachment (w/h only for images and videos, which have them). */
export function remoteAttachment(attachment: MessageCreate["attachments"][number]): RemoteAttachment {
  return {
    url: attachment.url,
    filename: attachment.filename,
    size: attachment.size,
    ...(attachment.content_type !== undefined ? { mimetype: attachment.content_type } : {}),
    ...(typeof attachment.width === "number" ? { width: attachment.width } : {}),
    ...(typeof attachment.height === "number" ? { height: attachment.height } : {}),
  };
}

/** MESSAGE_UPDATE as an edit, or null for an update that is not one (an embed unfurl: no content, no edit time). */
export function remoteEdit(update: z.infer<typeof MessageUpdate>, route: ChannelRoute, ctx: D2mContext): RemoteEdit | null {
  if (update.content === undefined || !update.edited_timestamp || !update.author) return null;
  return {
    kind: "edit",
    portalKey: route.portalKey,
    sender: remoteSender(update.author, undefined, ctx.cdnBaseUrl),
    messageId: discordMessageId(route, update.id),
    editId: update.edited_timestamp,
    timestamp: Date.parse(update.edited_timestamp),
    content: messageContent({ content: update.content, mentions: update.mentions }, ctx),
  };
}

export function remoteDeletion(deleted: z.infer<typeof MessageDelete>, route: ChannelRoute): RemoteChange {
  return { kind: "delete", portalKey: route.portalKey, messageId: discordMessageId(route, deleted.id) };
}

function actor(userId: string, member: { user?: { username: string; global_name?: string | null | undefined } | undefined; nick?: string | null | undefined } | undefined): RemoteActor {
  const name = member?.nick ?? (member?.user ? discordDisplayName(member.user) : undefined);
  return name === undefined ? { id: remoteUserId(userId) } : { id: remoteUserId(userId), displayName: name };
}

/**
 * The reaction key: a unicode emoji as itself; a custom emoji as its uploaded image's mxc URI (the one its inline
 * image in text uses), else as `:name:`; a deleted custom emoji (no name) without an image is nothing.
 */
export function emojiKey(emoji: { id: string | null; name: string | null }, emojiMxc: D2mContext["emojiMxc"]): string | null {
  if (emoji.id === null) return emoji.name;
  return emojiMxc(emoji.id) ?? (emoji.name === null ? null : `:${emoji.name}:`);
}

/** A reaction's custom emoji (its image to upload), or null for a unicode one. */
export function reactionEmoji(emoji: z.infer<typeof MessageReaction>["emoji"]): CustomEmoji | null {
  return emoji.id === null || emoji.name === null ? null : { id: emoji.id, name: emoji.name, animated: emoji.animated ?? false };
}

export function remoteReaction(kind: "reaction" | "reaction_remove", reaction: z.infer<typeof MessageReaction>, route: ChannelRoute, now: number, ctx: D2mContext): RemoteChange | null {
  const emoji = emojiKey(reaction.emoji, ctx.emojiMxc);
  if (emoji === null) return null;
  return {
    kind,
    portalKey: route.portalKey,
    sender: actor(reaction.user_id, reaction.member),
    messageId: discordMessageId(route, reaction.message_id),
    emoji,
    // An image key: clients show its name from the shortcode.
    ...(emoji.startsWith("mxc://") && reaction.emoji.name !== null ? { shortcode: `:${reaction.emoji.name}:` } : {}),
    timestamp: now,
  };
}

/**
 * GUILD_MEMBER_UPDATE as one ghost_profile change per bridged channel portal of the guild: the member as a message
 * of theirs would show them (the nickname first, then the global name, then the username; the user's avatar).
 */
export function ghostProfileChanges(member: z.infer<typeof GuildMemberUpdate>, portals: PortalKey[], cdnBaseUrl: string): RemoteGhostProfile[] {
  const sender = remoteSender(member.user, member.nick, cdnBaseUrl);
  return portals.map((key) => ({ kind: "ghost_profile", portalKey: key, sender }));
}

/** Discord shows typing for about 10 seconds after TYPING_START. */
export const DISCORD_TYPING_MS = 10_000;

export function remoteTyping(typing: z.infer<typeof TypingStart>, route: ChannelRoute): RemoteChange {
  return { kind: "typing", portalKey: route.portalKey, sender: actor(typing.user_id, typing.member), timeoutMs: DISCORD_TYPING_MS };
}
