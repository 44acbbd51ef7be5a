import { portalKey, remoteMessageId, remoteUserId } from "../../core/ids";
import type { MatrixMessageContent, RemoteMessage } from "../../core/network";
import type { MessageEvent } from "../payloads";
import { renderMrkdwn } from "./mrkdwn";

/** What the converter needs to know about users, looked up (users.info) before it runs. */
export interface SlackNames {
  /** The Matrix ghost of a Slack user of this workspace. */
  ghostUserId(slackUserId: string): string;
  /** A Slack user's display name (the id when unknown). */
  displayName(slackUserId: string): string;
}

/** The portal key of a Slack conversation: `TEAM:CHANNEL` (channel ids are unique within a workspace). */
export const slackPortalKey = (team: string, channel: string) => portalKey(`${team}:${channel}`);

/** A Slack message's ts as milliseconds since the epoch (`1700000000.123456` -> 1700000000123). */
export function tsToMillis(ts: string): number {
  const [seconds = "0", fraction = ""] = ts.split(".");
  return Number(seconds) * 1000 + Number(fraction.padEnd(3, "0").slice(0, 3));
}

/** The user ids a message's text mentions (`<@U123>` and `<@U123|name>`), for looking up their names first. */
export function mentionedUsers(text: string): string[] {
  return [...new Set([...text.matchAll(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1] ?? ""))].filter((id) => id !== "");
}

/** A Slack message's text as Matrix m.text content (pure). */
export function messageContent(text: string, names: SlackNames): MatrixMessageContent {
  const { body, html } = renderMrkdwn(text, { userId: names.ghostUserId, displayName: names.displayName });
  return html === undefined ? { msgtype: "m.text", body } : { msgtype: "m.text", body, format: "org.matrix.custom.html", formatted_body: html };
}

/**
 * A plain `message` event as the core's RemoteMessage (pure): one portal per conversation, one ghost per user.
 * The message's ts is its id within the conversation, so the portal's message map keys on it.
 */
export function remoteMessage(team: string, event: MessageEvent & { user: string }, names: SlackNames): RemoteMessage {
  const message: RemoteMessage = {
    kind: "message",
    portalKey: slackPortalKey(team, event.channel),
    sender: { id: remoteUserId(`${team}:${event.user}`), displayName: names.displayName(event.user) },
    messageId: remoteMessageId(event.ts),
    timestamp: tsToMillis(event.ts),
    content: messageContent(event.text, names),
  };
  // A thread reply answers the thread's root (a Matrix reply; real m.thread relations are still to come).
  if (event.thread_ts !== undefined && event.thread_ts !== event.ts) message.replyTo = remoteMessageId(event.thread_ts);
  return message;
}
