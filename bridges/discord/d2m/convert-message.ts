import { portalKey, remoteMessageId, remoteUserId } from "../../core/ids";
import type { MatrixMessageContent, RemoteMessage } from "../../core/network";
import type { MessageCreate } from "../gateway/payloads";
import { type MentionResolver, renderDiscordMarkdown } from "./markdown";

/** The name Discord shows for a user: their global display name, else their username. */
export function discordDisplayName(user: { username: string; global_name?: string | null | undefined }): string {
  return user.global_name ?? user.username;
}

/** A Discord message's text as Matrix m.text content (pure). */
export function messageContent(message: MessageCreate, ghostUserId: (discordId: string) => string): MatrixMessageContent {
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
  };
}
