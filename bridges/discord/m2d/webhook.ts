import { escapeDiscordMarkdown } from "./convert-message";

/**
 * How the person's messages look when posted through a channel webhook (m2d, pure): the webhook's per-message
 * name, and a reply, which a webhook cannot send as a real one (no message_reference), as a quoted jump link.
 */

/** The name the bridge's webhook in each channel gets (found again by it after a restart). */
export const WEBHOOK_NAME = "Matrix bridge";
/** Discord's limit on a webhook message's `username`. */
const USERNAME_MAX = 80;
/** Discord refuses webhook usernames containing these words (any case), and the names "everyone" and "here". */
const REFUSED_WORDS = /discord|clyde/gi;
const REFUSED_NAMES = new Set(["everyone", "here"]);

/** A Matrix display name as a webhook `username`: refused words broken by a zero-width space, at most 80 characters. */
export function webhookUsername(displayName: string | undefined, userId: string): string {
  const source = displayName?.trim() || userId;
  const name = [...source.replace(REFUSED_WORDS, (word) => `${word[0]}\u200b${word.slice(1)}`)].slice(0, USERNAME_MAX).join("");
  return REFUSED_NAMES.has(name.toLowerCase()) ? `${name.slice(0, USERNAME_MAX - 1)}\u200b` : name;
}

/** Discord's link to a message (the client jumps to it). */
export const messageLink = (guildId: string, channelId: string, messageId: string): string => `https://discord.com/channels/${guildId}/${channelId}/${messageId}`;

/** The quoted first line of a reply sent through a webhook: `> [reply to @name](link)`; it pings no one. */
export function replyQuote(authorName: string | undefined, link: string): string {
  const label = authorName === undefined ? "reply" : `reply to @${escapeDiscordMarkdown(authorName).replace(/([[\]])/g, "\\$1")}`;
  return `> [${label}](${link})\n`;
}

/** replyQuote's line at the start of a message the bridge posted, or "": an edit through the webhook keeps it. */
export function leadingReplyQuote(content: string): string {
  return /^> \[reply(?: to @(?:\\.|[^\]\\])*)?\]\(https:\/\/discord\.com\/channels\/\d+\/\d+\/\d+\)\n/.exec(content)?.[0] ?? "";
}
