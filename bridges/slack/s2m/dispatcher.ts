import type { PortalKey } from "../../core/ids";
import type { RemoteChange, RemoteEvent, RemoteMessage } from "../../core/network";
import type { RemoteEventResult } from "../../core/portal-object";
import { type EventCallback, MemberEvent, MessageEvent, ReactionEvent, RenameEvent, type SlackMessage, type SlackUser, UserChangeEvent } from "../payloads";
import {
  type SlackNames,
  customEmojiNames,
  mentionedUsers,
  remoteDeletion,
  remoteEdit,
  remoteMembership,
  remoteGhostProfiles,
  remoteMessage,
  remoteReaction,
  slackPortalKey,
} from "./convert-message";

/** A Slack user as the bridge shows them: name and avatar (users.info, cached). */
export interface SlackProfile {
  name: string;
  avatarUrl?: string;
}

/** What the dispatcher's actions may do: all I/O is here, injected (tests pass fakes). */
export interface SlackDispatchContext {
  /** Whether the bridge has tokens for a workspace (an OAuth install, or the configured token's workspace). */
  servesTeam(team: string): Promise<boolean>;
  ghostUserId(team: string, slackUserId: string): string;
  /** Profiles of users of a workspace (users.info, cached); unknown ones are left out. */
  profiles(team: string, slackUserIds: string[]): Promise<Record<string, SlackProfile>>;
  /** Custom emoji of a workspace as mxc:// URIs (emoji.list, cached; each image uploaded once); unknown ones left out. */
  customEmoji(team: string, names: string[]): Promise<Record<string, string>>;
  /** Queues a remote event to its portal (the portal object's serialized queue). */
  toPortal(event: RemoteEvent): Promise<RemoteEventResult>;
  toPortalChange(change: RemoteChange): Promise<unknown>;
  /** The conversation's name, topic or purpose changed: its portal room reads them again (conversations.info). */
  chatChanged(key: PortalKey): Promise<void>;
  /** Remembers which portal a Matrix room belongs to, for the way back. */
  rememberPortal(roomId: string, key: PortalKey): Promise<void>;
  /** True (once) when this reaction is the echo of one the bridge added for the person. */
  takeReactionEcho(channel: string, ts: string, name: string): Promise<boolean>;
  /** The bot's token was revoked or the app uninstalled: the person is told in the management room. */
  tokensRevoked(team: string): Promise<void>;
  /**
   * A user's new profile (user_change): kept in the profile cache; the workspace's portals when the bridge has shown
   * this user before and their name or avatar differs from what it showed (status changes and strangers: none).
   */
  profileChanged(team: string, user: SlackUser): Promise<PortalKey[]>;
  /** Whether a workspace's user is the bridge's own bot (its joins and leaves are not a ghost's). */
  isBridgeBot(team: string, slackUserId: string): Promise<boolean>;
}

/** Subtypes that announce a change of the conversation itself, not a message. */
const CHAT_INFO_SUBTYPES = new Set<string | undefined>(["channel_name", "channel_topic", "channel_purpose", "group_name", "group_topic", "group_purpose"]);

/** Subtypes bridged as messages; bot_message (legacy integrations) has no user to make a ghost of. */
const MESSAGE_SUBTYPES = new Set<string | undefined>([undefined, "thread_broadcast", "file_share", "me_message"]);

/** What converting a message needs: the dispatcher's context, or the connector's for backfill. */
export type SlackLookup = Pick<SlackDispatchContext, "ghostUserId" | "profiles" | "customEmoji">;

/** Everything the converter needs, looked up first: users' profiles, and the custom emoji of the text. */
async function names(ctx: SlackLookup, team: string, users: string[], text = ""): Promise<SlackNames> {
  const custom = customEmojiNames(text);
  const [profiles, emoji] = await Promise.all([ctx.profiles(team, users), custom.length === 0 ? ({} as Record<string, string>) : ctx.customEmoji(team, custom)]);
  return {
    ghostUserId: (id) => ctx.ghostUserId(team, id),
    displayName: (id) => profiles[id]?.name ?? id,
    avatarUrl: (id) => profiles[id]?.avatarUrl,
    customEmoji: (name) => emoji[name],
  };
}

/**
 * A new message (from an event or conversations.history) as a RemoteMessage, or null when it is not one the bridge
 * shows (joins, bot_message without a user, empty).
 */
export async function convertMessage(ctx: SlackLookup, team: string, channel: string, event: SlackMessage): Promise<RemoteMessage | null> {
  if (!MESSAGE_SUBTYPES.has(event.subtype) || event.user === undefined) return null;
  if (event.text === "" && (event.files ?? []).length === 0) return null;
  const known = await names(ctx, team, [event.user, ...mentionedUsers(event.text)], event.text);
  const converted = remoteMessage(team, channel, { ...event, user: event.user }, known);
  if (event.subtype === "me_message") converted.content = { ...converted.content, msgtype: "m.emote" };
  return converted;
}

/** `message`: a new message, or (by subtype) an edit or a deletion, in a conversation the bot is in. */
async function message(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const event = MessageEvent.parse(envelope.event);
  const team = envelope.team_id;
  if (event.subtype === "message_changed") {
    const edited = event.message;
    // Also sent for unfurls and thread reply counts: only a changed text (`edited`) is an edit.
    if (edited?.user === undefined || edited.edited === undefined) return;
    const known = await names(ctx, team, [edited.user, ...mentionedUsers(edited.text)], edited.text);
    await ctx.toPortalChange(remoteEdit(team, event.channel, { ...edited, user: edited.user, edited: edited.edited }, known));
    return;
  }
  if (CHAT_INFO_SUBTYPES.has(event.subtype)) {
    await ctx.chatChanged(slackPortalKey(team, event.channel));
    return;
  }
  if (event.subtype === "message_deleted") {
    if (event.deleted_ts !== undefined) await ctx.toPortalChange(remoteDeletion(team, event.channel, event.deleted_ts));
    return;
  }
  const converted = await convertMessage(ctx, team, event.channel, event);
  if (converted === null) return;
  // Our own chat.postMessage comes back as a message event too: the portal finds its ts in the message map.
  const result = await ctx.toPortal(converted);
  await ctx.rememberPortal(result.roomId, converted.portalKey);
}

/** reaction_added / reaction_removed on a message (reactions on files are not bridged). */
async function reaction(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const event = ReactionEvent.parse(envelope.event);
  const { channel, ts } = event.item;
  if (event.item.type !== "message" || channel === undefined || ts === undefined) return;
  // Our own reactions.add comes back: the portal has it in its reaction map under the person's Matrix id.
  if (event.type === "reaction_added" && (await ctx.takeReactionEcho(channel, ts, event.reaction))) return;
  const team = envelope.team_id;
  const profile = event.type === "reaction_added" ? (await ctx.profiles(team, [event.user]))[event.user] : undefined;
  const [custom] = customEmojiNames(`:${event.reaction}:`);
  const image = custom === undefined ? undefined : (await ctx.customEmoji(team, [custom]))[custom];
  await ctx.toPortalChange(remoteReaction(team, { ...event, item: { ...event.item, channel, ts } }, profile?.name, image));
}

/** member_joined_channel / member_left_channel: the user's ghost (named, with their avatar) joins or leaves the room. */
async function membership(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const event = MemberEvent.parse(envelope.event);
  const team = envelope.team_id;
  if (await ctx.isBridgeBot(team, event.user)) return;
  const known = await names(ctx, team, [event.user]);
  await ctx.toPortalChange(remoteMembership(team, event, envelope.event_time ?? Math.floor(Date.now() / 1000), known));
}

/** user_change: a renamed (or new avatar) user's ghost follows in the portals where it is, without a message. */
async function userChange(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const { user } = UserChangeEvent.parse(envelope.event);
  const portals = await ctx.profileChanged(envelope.team_id, user);
  for (const change of remoteGhostProfiles(envelope.team_id, user, portals)) await ctx.toPortalChange(change);
}

async function revoked(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  await ctx.tokensRevoked(envelope.team_id);
}

/** channel_rename / group_rename: the portal room takes the new name. */
async function rename(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const event = RenameEvent.parse(envelope.event);
  await ctx.chatChanged(slackPortalKey(envelope.team_id, event.channel.id));
}

type Handler = (ctx: SlackDispatchContext, envelope: EventCallback) => Promise<void>;

/** Routing only, by the inner event's type; events without a handler are acknowledged and ignored. */
const handlers: Partial<Record<string, Handler>> = {
  message,
  reaction_added: reaction,
  reaction_removed: reaction,
  channel_rename: rename,
  group_rename: rename,
  member_joined_channel: membership,
  member_left_channel: membership,
  user_change: userChange,
  tokens_revoked: revoked,
  app_uninstalled: revoked,
};

export async function dispatch(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const handler = handlers[envelope.event.type];
  if (handler === undefined) return;
  // An app installed in several workspaces gets all their events with one signing secret; each workspace's
  // events are bridged with its own tokens, and those of a workspace without any are dropped.
  if (!(await ctx.servesTeam(envelope.team_id))) {
    console.warn(`slack: event ${envelope.event_id} of workspace ${envelope.team_id} ignored: no tokens for it`);
    return;
  }
  await handler(ctx, envelope);
}
