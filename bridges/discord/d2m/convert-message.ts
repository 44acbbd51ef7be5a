import { portalKey, remoteMessageId, remoteUserId } from "../../core/ids";
import type { z } from "zod";
import type { MatrixMessageContent, RemoteActor, RemoteAttachment, RemoteChange, RemoteEdit, RemoteMessage } from "../../core/network";
import type { MessageCreate, MessageDelete, MessageReaction, MessageUpdate, TypingStart } from "../gateway/payloads";
import { type MentionResolver, renderDiscordMarkdown } from "./markdown";

/** The name Discord shows for a user: their global display name, else their username. */
export function discordDisplayName(user: { username: string; global_name?: string | null | undefined }): string {
  return user.global_name ?? user.username;
}

/** A Discord message's text as Matrix m.text content (pure). */
export function messageContent(message: Pick<MessageCreate, "content" | "mentions">, ghostUserId: (discordId: string) => string): MatrixMessageContent {
  const mentions: MentionResolver = {
    userId: ghostUserId,
    displayName: (id) => {
      const user = message.mentions.find((u) => u.id === id);
      return user ? discordDisplayName(user) : id;
    },
  };
  const { body, html } = renderDiscordMarkdown(message.content, mentions);
  return html === undefined ? { msgtype: "m.text", body } : { msgtype: "m.text", body, format: "org.matrix.custom.html", formatted_body: html };
}

/** MESSAGE_CREATE as the core's RemoteMessage: one portal per channel, one ghost per author (pure). */
export function remoteMessage(message: MessageCreate, ghostUserId: (discordId: string) => string): RemoteMessage {
  return {
    kind: "message",
    portalKey: portalKey(message.channel_id),
    sender: { id: remoteUserId(message.author.id), displayName: discordDisplayName(message.author) },
    messageId: remoteMessageId(message.id),
    timestamp: Date.parse(message.timestamp),
    content: messageContent(message, ghostUserId),
    ...(message.attachments.length > 0 ? { attachments: message.attachments.map(remoteAttachment) } : {}),
    // A reply (type 0 reference) in the same channel; forwards and crossposts are not replies.
    ...(message.message_reference?.message_id !== undefined && (message.message_reference.type ?? 0) === 0 && (message.message_reference.channel_id ?? message.channel_id) === message.channel_id
      ? { replyTo: remoteMessageId(message.message_reference.message_id) }
      : {}),
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
export function remoteEdit(update: z.infer<typeof MessageUpdate>, ghostUserId: (discordId: string) => string): RemoteEdit | null {
  if (update.content === undefined || !update.edited_timestamp || !update.author) return null;
  return {
    kind: "edit",
    portalKey: portalKey(update.channel_id),
    sender: { id: remoteUserId(update.author.id), displayName: discordDisplayName(update.author) },
    messageId: remoteMessageId(update.id),
    editId: update.edited_timestamp,
    timestamp: Date.parse(update.edited_timestamp),
    content: messageContent({ content: update.content, mentions: update.mentions }, ghostUserId),
  };
}

export function remoteDeletion(deleted: z.infer<typeof MessageDelete>): RemoteChange {
  return { kind: "delete", portalKey: portalKey(deleted.channel_id), messageId: remoteMessageId(deleted.id) };
}

function actor(userId: string, member: { user?: { username: string; global_name?: string | null | undefined } | undefined; nick?: string | null | undefined } | undefined): RemoteActor {
  const name = member?.nick ?? (member?.user ? discordDisplayName(member.user) : undefined);
  return name === undefined ? { id: remoteUserId(userId) } : { id: remoteUserId(userId), displayName: name };
}

/** The reaction key: a unicode emoji as itself, a custom emoji as `:name:` (its image is not bridged yet). */
export function emojiKey(emoji: { id: string | null; name: string | null }): string | null {
  if (emoji.name === null) return null;
  return emoji.id === null ? emoji.name : `:${emoji.name}:`;
}

export function remoteReaction(kind: "reaction" | "reaction_remove", reaction: z.infer<typeof MessageReaction>, now: number): RemoteChange | null {
  const emoji = emojiKey(reaction.emoji);
  if (emoji === null) return null;
  return {
    kind,
    portalKey: portalKey(reaction.channel_id),
    sender: actor(reaction.user_id, reaction.member),
    messageId: remoteMessageId(reaction.message_id),
    emoji,
    timestamp: now,
  };
}

/** Discord shows typing for about 10 seconds after TYPING_START. */
export const DISCORD_TYPING_MS = 10_000;

export function remoteTyping(typing: z.infer<typeof TypingStart>): RemoteChange {
  return { kind: "typing", portalKey: portalKey(typing.channel_id), sender: actor(typing.user_id, typing.member), timeoutMs: DISCORD_TYPING_MS };
}
