import { type PortalKey, portalKey, remoteMessageId, remoteUserId } from "../../core/ids";
import type {
  MatrixMessageContent,
  RemoteAttachment,
  RemoteDeletion,
  RemoteEdit,
  RemoteGhostProfile,
  RemoteMembership,
  RemoteMessage,
  RemoteReaction,
  RemoteSender,
} from "../../core/network";
import { SHORTCODE, shortcodeToUnicode } from "../emoji";
import { type MemberEvent, type ReactionEvent, type SlackFile, type SlackMessage, type SlackUser, slackAvatarUrl, slackDisplayName } from "../payloads";
import { type SlackMentionResolver, renderMrkdwn } from "./mrkdwn";
import { richTextContent } from "./rich-text";

/** What the converter needs to know about users, looked up before it runs. */
export interface SlackNames {
  /** The Matrix ghost of a Slack user of this workspace. */
  ghostUserId(slackUserId: string): string;
  /** A Slack user's display name (the id when unknown). */
  displayName(slackUserId: string): string;
  /** A Slack user's avatar URL, when known. */
  avatarUrl?(slackUserId: string): string | undefined;
  /** A custom workspace emoji's image (mxc://), when known. */
  customEmoji?(name: string): string | undefined;
}

/** The portal key of a Slack conversation: `TEAM:CHANNEL` (channel ids are unique within a workspace). */
export const slackPortalKey = (team: string, channel: string): PortalKey => portalKey(`${team}:${channel}`);

/** A Slack message's ts as milliseconds since the epoch (`1700000000.123456` -> 1700000000123). */
export function tsToMillis(ts: string): number {
  const [seconds = "0", fraction = ""] = ts.split(".");
  return Number(seconds) * 1000 + Number(fraction.padEnd(3, "0").slice(0, 3));
}

/** Orders two ts exactly (as numbers they would lose the last microseconds): negative when `a` is older. */
export function compareTs(a: string, b: string): number {
  const [as = "0", af = ""] = a.split(".");
  const [bs = "0", bf = ""] = b.split(".");
  return Number(as) - Number(bs) || af.padEnd(6, "0").localeCompare(bf.padEnd(6, "0"));
}

/** The user ids a message's text mentions (`<@U123>` and `<@U123|name>`), for looking up their names first. */
export function mentionedUsers(text: string): string[] {
  return [...new Set([...text.matchAll(/<@([A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1] ?? ""))].filter((id) => id !== "");
}

/** The `:name:` shortcodes of a text that are not standard emoji: custom workspace emoji, to look up first. */
export function customEmojiNames(text: string): string[] {
  return [...new Set([...text.matchAll(SHORTCODE)].map((m) => m[1] ?? ""))].filter((name) => name !== "" && shortcodeToUnicode(name).startsWith(":"));
}

/**
 * A Slack message's text as Matrix m.text content (pure), with `m.mentions`: the ghosts of mentioned users, and
 * `room` for `<!here>`, `<!channel>` and `<!everyone>` (always present, so clients never guess from the body).
 */
const mentionResolver = (names: SlackNames): SlackMentionResolver => ({ userId: names.ghostUserId, displayName: names.displayName, customEmoji: names.customEmoji });

export function messageContent(text: string, names: SlackNames): MatrixMessageContent {
  const { body, html } = renderMrkdwn(text, mentionResolver(names));
  const userIds = mentionedUsers(text).map(names.ghostUserId);
  const mentions: NonNullable<MatrixMessageContent["m.mentions"]> = {};
  if (userIds.length > 0) mentions.user_ids = userIds;
  if (/<!(?:here|channel|everyone)(?:\|[^>]*)?>/.test(text)) mentions.room = true;
  const content: MatrixMessageContent = { msgtype: "m.text", body, "m.mentions": mentions };
  return html === undefined ? content : { ...content, format: "org.matrix.custom.html", formatted_body: html };
}

export function remoteSender(team: string, user: string, names: Pick<SlackNames, "displayName" | "avatarUrl">): RemoteSender {
  const sender: RemoteSender = { id: remoteUserId(`${team}:${user}`), displayName: names.displayName(user) };
  const avatar = names.avatarUrl?.(user);
  if (avatar !== undefined) sender.avatarUrl = avatar;
  return sender;
}

/**
 * The files of a message, as attachments the portal fetches through the connector (`url_private` needs the token);
 * external files without `url_private` are left out.
 */
function attachments(files: SlackFile[]): RemoteAttachment[] {
  const out: RemoteAttachment[] = [];
  for (const file of files) {
    const url = file.url_private_download ?? file.url_private;
    if (url === undefined) continue;
    const attachment: RemoteAttachment = { url, filename: file.name ?? file.title ?? file.id, size: file.size ?? 0 };
    if (file.mimetype !== undefined) attachment.mimetype = file.mimetype;
    if (file.original_w !== undefined) attachment.width = file.original_w;
    if (file.original_h !== undefined) attachment.height = file.original_h;
    out.push(attachment);
  }
  return out;
}

/**
 * A Slack message as the core's RemoteMessage (pure): one portal per conversation, one ghost per user; the content
 * from its rich-text blocks when it has them, else from its mrkdwn text. The message's ts is its id within the
 * conversation, so the portal's message map keys on it; a reply in a thread (thread_ts other than its own ts) goes
 * into the Matrix thread of the root message.
 */
export function remoteMessage(team: string, channel: string, event: SlackMessage & { user: string }, names: SlackNames): RemoteMessage {
  const message: RemoteMessage = {
    kind: "message",
    portalKey: slackPortalKey(team, channel),
    sender: remoteSender(team, event.user, names),
    messageId: remoteMessageId(event.ts),
    timestamp: tsToMillis(event.ts),
    content: richTextContent(event.blocks, mentionResolver(names)) ?? (event.text === "" ? { msgtype: "m.text", body: "" } : messageContent(event.text, names)),
  };
  const files = attachments(event.files ?? []);
  if (files.length > 0) message.attachments = files;
  if (event.thread_ts !== undefined && event.thread_ts !== event.ts) message.threadRoot = remoteMessageId(event.thread_ts);
  return message;
}

/** `message_changed` with a new text (`edited` set): an edit of the message, told apart by the edit's ts. */
export function remoteEdit(team: string, channel: string, edited: SlackMessage & { user: string; edited: { ts: string } }, names: SlackNames): RemoteEdit {
  return {
    kind: "edit",
    portalKey: slackPortalKey(team, channel),
    sender: remoteSender(team, edited.user, names),
    messageId: remoteMessageId(edited.ts),
    editId: edited.edited.ts,
    timestamp: tsToMillis(edited.edited.ts),
    content: richTextContent(edited.blocks, mentionResolver(names)) ?? messageContent(edited.text, names),
  };
}

export function remoteDeletion(team: string, channel: string, deletedTs: string): RemoteDeletion {
  return { kind: "delete", portalKey: slackPortalKey(team, channel), messageId: remoteMessageId(deletedTs) };
}

/** reaction_added / reaction_removed on a message: the emoji as Unicode, custom ones as `:name:`. */
export function remoteReaction(
  team: string,
  event: ReactionEvent & { item: { channel: string; ts: string } },
  displayName: string | undefined,
  /** The reaction's custom workspace emoji image (mxc://), when it is one and is known. */
  customEmoji?: string,
): RemoteReaction {
  return {
    kind: event.type === "reaction_added" ? "reaction" : "reaction_remove",
    portalKey: slackPortalKey(team, event.item.channel),
    sender: displayName === undefined ? { id: remoteUserId(`${team}:${event.user}`) } : { id: remoteUserId(`${team}:${event.user}`), displayName },
    messageId: remoteMessageId(event.item.ts),
    ...(customEmoji !== undefined ? { emoji: customEmoji, shortcode: `:${event.reaction}:` } : { emoji: shortcodeToUnicode(event.reaction) }),
    timestamp: tsToMillis(event.event_ts),
  };
}

/** member_joined_channel / member_left_channel as a RemoteMembership (pure); `eventTime` is the envelope's, in seconds. */
export function remoteMembership(team: string, event: MemberEvent, eventTime: number, names: SlackNames): RemoteMembership {
  return {
    kind: "membership",
    portalKey: slackPortalKey(team, event.channel),
    sender: remoteSender(team, event.user, names),
    membership: event.type === "member_joined_channel" ? "join" : "leave",
    timestamp: event.event_ts === undefined ? eventTime * 1000 : tsToMillis(event.event_ts),
  };
}

/** A user's new profile (user_change) as a ghost_profile change for each of the workspace's portals given. */
export function remoteGhostProfiles(team: string, user: SlackUser, portals: PortalKey[]): RemoteGhostProfile[] {
  const avatar = slackAvatarUrl(user);
  const sender = remoteSender(team, user.id, { displayName: () => slackDisplayName(user), avatarUrl: () => avatar });
  return portals.map((key) => ({ kind: "ghost_profile", portalKey: key, sender }));
}
