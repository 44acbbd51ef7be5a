import { GatewayDispatchEvents } from "discord-api-types/gateway/v10";
import type { z } from "zod";
import type { PortalKey } from "../../core/ids";
import type { RemoteEventResult } from "../../core/portal-object";
import type { RemoteChange, RemoteEvent } from "../../core/network";
import { Channel, ChannelPinsUpdate, GuildCreate, GuildMemberUpdate, MessageCreate, MessageDelete, MessageReaction, MessageUpdate, TypingStart } from "../gateway/payloads";
import {
  type ChannelRoute,
  type CustomEmoji,
  type D2mContext,
  type OwnAuthors,
  customEmojis,
  discordMessageId,
  ghostProfileChanges,
  hasContent,
  isOwnMessage,
  reactionEmoji,
  remoteDeletion,
  remoteEdit,
  remoteMessage,
  remoteReaction,
  remoteTyping,
} from "./convert-message";

/** What the dispatcher's actions may do: all I/O is here, injected (tests pass fakes). */
export interface DispatchContext {
  convert: D2mContext;
  /** Where a channel's events go, or null when the channel is not bridged (they are then dropped). */
  route(channelId: string): Promise<ChannelRoute | null>;
  /** Queues a remote event to its portal (the portal object's serialized queue). */
  toPortal(event: RemoteEvent): Promise<RemoteEventResult>;
  /** Queues a change to a bridged message (or typing) to its portal, in order with its messages. */
  toPortalChange(change: RemoteChange): Promise<unknown>;
  /**
   * The logged-in account's Discord user id (from READY): its reactions and typing are the bridge's own doing (with
   * a user token the person's own, so what they do in a Discord app is dropped with the echoes).
   */
  botUserId(): string | null;
  /** Who posts for the bridge (its webhooks, its bot): those messages are echoes. */
  ownAuthors(): Promise<OwnAuthors>;
  now(): number;
  /** Remembers which portal a Matrix room belongs to, for the way back. */
  rememberPortal(roomId: string, key: PortalKey): void;
  /** Channels, threads and roles the gateway told about (names for mentions, threads' parents). */
  learnGuild(guild: z.infer<typeof GuildCreate>): void;
  learnChannel(channel: z.infer<typeof Channel>): void;
  /** A bridged channel's name, topic or icon changed: its portal re-reads them. */
  syncChat(key: PortalKey): Promise<void>;
  /** Uploads the images of custom emoji not uploaded yet (once each), so the converter shows them inline. */
  ensureEmojis(emojis: CustomEmoji[]): Promise<void>;
  /** The portals of a guild's bridged channels. */
  guildPortals(guildId: string): PortalKey[];
  /** A channel's pinned messages' ids, oldest pin first (REST). */
  pinnedMessageIds(channelId: string): Promise<string[]>;
}

type Handler = (ctx: DispatchContext, data: unknown) => Promise<void>;

/** MESSAGE_CREATE: a new message in a channel the bot can read. */
async function messageCreate(ctx: DispatchContext, data: unknown): Promise<void> {
  const message = MessageCreate.parse(data);
  if (!hasContent(message) || isOwnMessage(message, await ctx.ownAuthors())) return;
  const route = await ctx.route(message.channel_id);
  if (route === null) return;
  await ctx.ensureEmojis(customEmojis(message.content));
  const event = remoteMessage(message, route, ctx.convert);
  const result = await ctx.toPortal(event);
  ctx.rememberPortal(result.roomId, event.portalKey);
}

/** MESSAGE_UPDATE: an edit (other updates, such as embed unfurls, carry no new text). */
async function messageUpdate(ctx: DispatchContext, data: unknown): Promise<void> {
  const update = MessageUpdate.parse(data);
  if (isOwnMessage(update, await ctx.ownAuthors())) return;
  const route = await ctx.route(update.channel_id);
  if (route !== null) await ctx.ensureEmojis(customEmojis(update.content ?? ""));
  const edit = route && remoteEdit(update, route, ctx.convert);
  if (edit) await ctx.toPortalChange(edit);
}

async function messageDelete(ctx: DispatchContext, data: unknown): Promise<void> {
  const deleted = MessageDelete.parse(data);
  const route = await ctx.route(deleted.channel_id);
  if (route) await ctx.toPortalChange(remoteDeletion(deleted, route));
}

function reaction(kind: "reaction" | "reaction_remove"): Handler {
  return async (ctx, data) => {
    const parsed = MessageReaction.parse(data);
    // The bot reacts only for the person, from Matrix: its reactions coming back are echoes.
    if (parsed.user_id === ctx.botUserId()) return;
    const route = await ctx.route(parsed.channel_id);
    if (route === null) return;
    // A custom emoji's image, uploaded once (as for text): the reaction's key is its mxc URI.
    const custom = reactionEmoji(parsed.emoji);
    if (custom !== null && kind === "reaction") await ctx.ensureEmojis([custom]);
    const change = remoteReaction(kind, parsed, route, ctx.now(), ctx.convert);
    if (change) await ctx.toPortalChange(change);
  };
}

async function typingStart(ctx: DispatchContext, data: unknown): Promise<void> {
  const parsed = TypingStart.parse(data);
  if (parsed.user_id === ctx.botUserId()) return;
  const route = await ctx.route(parsed.channel_id);
  if (route) await ctx.toPortalChange(remoteTyping(parsed, route));
}

/** GUILD_CREATE (on READY and on joining a guild): its channels, threads and roles. */
async function guildCreate(ctx: DispatchContext, data: unknown): Promise<void> {
  ctx.learnGuild(GuildCreate.parse(data));
}

/** THREAD_CREATE, THREAD_UPDATE, CHANNEL_CREATE: a channel's name, or a thread's parent and whether it is archived. */
async function channel(ctx: DispatchContext, data: unknown): Promise<void> {
  ctx.learnChannel(Channel.parse(data));
}

/** CHANNEL_UPDATE: learnt, and a bridged channel's room follows its name, topic and icon. */
async function channelUpdate(ctx: DispatchContext, data: unknown): Promise<void> {
  const parsed = Channel.parse(data);
  ctx.learnChannel(parsed);
  const route = await ctx.route(parsed.id);
  if (route !== null && route.threadId === undefined) await ctx.syncChat(route.portalKey);
}

/**
 * GUILD_MEMBER_UPDATE (only with DISCORD_GUILD_MEMBERS_INTENT): a nickname or avatar changed without a message; the
 * ghost follows in each bridged channel of the guild where it is. (USER_UPDATE is about the bot itself: ignored.)
 */
async function guildMemberUpdate(ctx: DispatchContext, data: unknown): Promise<void> {
  const member = GuildMemberUpdate.parse(data);
  for (const change of ghostProfileChanges(member, ctx.guildPortals(member.guild_id), ctx.convert.cdnBaseUrl)) await ctx.toPortalChange(change);
}

/** CHANNEL_PINS_UPDATE: a bridged channel's room pins what the channel pins (threads' pins are not bridged). */
async function channelPinsUpdate(ctx: DispatchContext, data: unknown): Promise<void> {
  const { channel_id: channelId } = ChannelPinsUpdate.parse(data);
  const route = await ctx.route(channelId);
  if (route === null || route.threadId !== undefined) return;
  const messageIds = (await ctx.pinnedMessageIds(channelId)).map((id) => discordMessageId(route, id));
  await ctx.toPortalChange({ kind: "pins", portalKey: route.portalKey, messageIds });
}

/** Routing only, named after the gateway events; events without a handler are ignored. */
const handlers: Partial<Record<string, Handler>> = {
  [GatewayDispatchEvents.MessageCreate]: messageCreate,
  [GatewayDispatchEvents.MessageUpdate]: messageUpdate,
  [GatewayDispatchEvents.MessageDelete]: messageDelete,
  [GatewayDispatchEvents.MessageReactionAdd]: reaction("reaction"),
  [GatewayDispatchEvents.MessageReactionRemove]: reaction("reaction_remove"),
  [GatewayDispatchEvents.TypingStart]: typingStart,
  [GatewayDispatchEvents.GuildCreate]: guildCreate,
  [GatewayDispatchEvents.ThreadCreate]: channel,
  [GatewayDispatchEvents.ThreadUpdate]: channel,
  [GatewayDispatchEvents.ChannelCreate]: channel,
  [GatewayDispatchEvents.ChannelUpdate]: channelUpdate,
  [GatewayDispatchEvents.GuildMemberUpdate]: guildMemberUpdate,
  [GatewayDispatchEvents.ChannelPinsUpdate]: channelPinsUpdate,
};

export async function dispatch(ctx: DispatchContext, eventName: string, data: unknown): Promise<void> {
  await handlers[eventName]?.(ctx, data);
}
