import { type PortalKey, type RemoteMessageId, portalKey, remoteMessageId, remoteUserId } from "../core/ids";
import type {
  BackfillingNetworkApi,
  ChatInfo,
  EditHandlingNetworkApi,
  MatrixMessage,
  NetworkConnector,
  ReactionHandlingNetworkApi,
  ReactionRemovingNetworkApi,
  RedactionHandlingNetworkApi,
  RemoteMessage,
  TypingHandlingNetworkApi,
} from "../core/network";
import { DM_CHANNEL_TYPES } from "./channel-types";
import { DISCORD_GHOST_PREFIX, DISCORD_NETWORK_ID, type DiscordConfig, DiscordConfigError, ghostLocalpart, loadDiscordConfig } from "./config";
import { type CustomEmoji, avatarUrl, channelRoute, customEmojis, discordDisplayName, hasContent, remoteMessage, splitMessageId } from "./d2m/convert-message";
import { discordGateway } from "./gateway/gateway-object";
import type { MessageCreate } from "./gateway/payloads";
import { spaceOrder } from "./management";
import { matrixToDiscord } from "./m2d/convert-message";
import { DiscordApiError, DiscordRest, MESSAGES_PAGE_LIMIT, MISSING_PERMISSIONS, UNKNOWN_WEBHOOK, type UploadFile, type WebhookCredentials } from "./rest";
import { WEBHOOK_NAME, messageLink, replyQuote, webhookUsername } from "./m2d/webhook";

/** The Discord user id behind one of our ghosts (`@_discord_<snowflake>:server`), else undefined. */
export function discordIdOfGhost(userId: string, serverName: string): string | undefined {
  const m = /^@([^:]+):(.+)$/.exec(userId);
  if (!m || m[2] !== serverName || !m[1]?.startsWith(DISCORD_GHOST_PREFIX)) return undefined;
  const id = m[1].slice(DISCORD_GHOST_PREFIX.length);
  return /^\d+$/.test(id) ? id : undefined;
}

/** A channel's webhook as the bridge keeps it: its credentials and the channel's guild (for message links). */
export interface ChannelWebhook extends WebhookCredentials {
  guildId: string;
}

/** What the person looks like on Discord when posting through a webhook: their Matrix name, and a public avatar URL. */
export interface WebhookSender {
  displayName?: string;
  avatarUrl?: string;
}

/**
 * What the API needs of the login (the gateway object): its token, the names it learned from the gateway, the
 * channels' webhooks it stores, and the person's profile in a room.
 */
export interface DiscordLoginSource {
  botToken(): Promise<string | null>;
  /** Channel and role names, and custom emoji images (uploaded when new), for messages read from the history. */
  names(channelIds: string[], roleIds: string[], emojis: CustomEmoji[]): Promise<{ channels: Record<string, string>; roles: Record<string, string>; emojis: Record<string, string> }>;
  /** The channel's stored webhook; "none" when it recently proved unusable (a DM, no MANAGE_WEBHOOKS); null: not looked up. */
  webhook(channelId: string): Promise<ChannelWebhook | "none" | null>;
  /** Stores the channel's webhook (null: none usable, looked up again later; also forgets a deleted one). */
  saveWebhook(channelId: string, hook: ChannelWebhook | null): Promise<void>;
  /** The Matrix user's display name and avatar (as a public URL) in a room. */
  webhookSender(roomId: string, userId: string): Promise<WebhookSender>;
}

/** Snowflakes sort by time: compare them as numbers. */
const bySnowflake = (a: { id: string }, b: { id: string }) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0);
/** The name a thread created from Matrix gets: the start of its first message. */
const THREAD_NAME_LENGTH = 40;

/** The bot account's side of Discord: chat info, history, and sending (one portal key = one channel id). */
export class DiscordNetworkApi
  implements EditHandlingNetworkApi, ReactionHandlingNetworkApi, ReactionRemovingNetworkApi, RedactionHandlingNetworkApi, TypingHandlingNetworkApi, BackfillingNetworkApi
{
  private restClient: Promise<DiscordRest> | undefined;

  constructor(
    private readonly config: DiscordConfig,
    private readonly login: DiscordLoginSource,
    /** Tests pass a fake Discord; else the runtime's fetch. */
    private readonly fetcher?: typeof fetch,
  ) {}

  private rest(): Promise<DiscordRest> {
    this.restClient ??= this.login.botToken().then((token) => {
      if (token === null) throw new Error('The Discord bridge is not logged in (say "login <bot token>" in a management room)');
      return new DiscordRest({ baseUrl: this.config.apiBaseUrl, botToken: token, ...(this.fetcher ? { fetch: this.fetcher } : {}) });
    });
    return this.restClient;
  }

  private ghostResolver(): (userId: string) => string | undefined {
    return (userId) => discordIdOfGhost(userId, this.config.identity.serverName);
  }

  async getChatInfo(key: PortalKey): Promise<ChatInfo> {
    const rest = await this.rest();
    const channel = await rest.channel(key);
    const cdn = this.config.cdnBaseUrl;
    if (DM_CHANNEL_TYPES.has(channel.type)) {
      const recipients = channel.recipients ?? [];
      const icon = channel.icon ? `${cdn}/channel-icons/${channel.id}/${channel.icon}.png` : recipients.length === 1 && recipients[0] ? avatarUrl(cdn, recipients[0]) : undefined;
      return { name: channel.name ?? (recipients.map(discordDisplayName).join(", ") || `Discord DM ${key}`), isDirect: true, ...(icon !== undefined ? { avatarUrl: icon } : {}) };
    }
    const info: ChatInfo = { name: channel.name ?? `Discord channel ${key}` };
    if (channel.topic) info.topic = channel.topic;
    if (channel.guild_id !== undefined) {
      const [guild, channels] = await Promise.all([rest.guild(channel.guild_id), rest.guildChannels(channel.guild_id)]);
      info.space = {
        key: portalKey(`guild-${guild.id}`),
        name: guild.name,
        order: spaceOrder(channel, channels),
        ...(guild.icon ? { avatarUrl: `${cdn}/icons/${guild.id}/${guild.icon}.png` } : {}),
      };
    }
    return info;
  }

  /** The channel's messages after `after` (null: the newest `limit`), oldest first, converted like live ones. */
  async fetchMessages(key: PortalKey, after: RemoteMessageId | null, limit: number): Promise<RemoteMessage[]> {
    const rest = await this.rest();
    const fetched: MessageCreate[] = [];
    if (after === null) {
      let before: string | undefined;
      while (fetched.length < limit) {
        const page = await rest.messages(key, { limit: Math.min(MESSAGES_PAGE_LIMIT, limit - fetched.length), ...(before !== undefined ? { before } : {}) });
        fetched.push(...page);
        if (page.length < MESSAGES_PAGE_LIMIT) break;
        before = page.sort(bySnowflake)[0]?.id;
      }
    } else {
      let cursor = splitMessageId(key, after).messageId;
      while (fetched.length < limit) {
        const page = (await rest.messages(key, { after: cursor, limit: Math.min(MESSAGES_PAGE_LIMIT, limit - fetched.length) })).sort(bySnowflake);
        fetched.push(...page);
        const last = page[page.length - 1];
        if (page.length < MESSAGES_PAGE_LIMIT || last === undefined) break;
        cursor = last.id;
      }
    }
    const messages = fetched.sort(bySnowflake).filter(hasContent);
    const text = messages.map((m) => m.content).join("\n");
    const ids = (pattern: RegExp) => [...new Set([...text.matchAll(pattern)].map((m) => m[1] ?? ""))];
    const names = await this.login.names(ids(/<#(\d+)>/g), ids(/<@&(\d+)>/g), customEmojis(text));
    const serverName = this.config.identity.serverName;
    const ctx = {
      ghostUserId: (id: string) => `@${ghostLocalpart(remoteUserId(id))}:${serverName}`,
      cdnBaseUrl: this.config.cdnBaseUrl,
      channelName: (id: string) => names.channels[id],
      roleName: (id: string) => names.roles[id],
      emojiMxc: (id: string) => names.emojis[id],
    };
    return messages.map((m) => remoteMessage(m, channelRoute(key), ctx));
  }

  /**
   * The person's message, in the channel or (a Matrix thread) the Discord thread on its root message, which is
   * started when there is none yet; a file goes as a multipart attachment with the caption as content. In a guild
   * channel it is posted through the channel's webhook, with the person's name and avatar; in a DM, or when the bot
   * may not manage webhooks, as the bot's own message (a real reply then).
   */
  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: RemoteMessageId }> {
    const rest = await this.rest();
    const { content, mentionedUserIds } = matrixToDiscord(message.content, this.ghostResolver());
    const channelId = message.threadRoot !== undefined ? await this.threadOf(rest, key, message.threadRoot, message.content.body) : key;
    const reply = message.replyTo === undefined ? undefined : splitMessageId(key, message.replyTo);
    const files: UploadFile[] =
      message.media?.bytes !== undefined ? [{ filename: message.media.filename, contentType: message.media.mimetype ?? "application/octet-stream", bytes: message.media.bytes }] : [];
    // Only what the person pinged through pills may ping: never @everyone or roles by accident.
    const allowedMentions = { parse: [], users: mentionedUserIds };
    const hook = await this.webhook(rest, key);
    let sent: { id: string };
    if (hook !== null) {
      const sender = await this.login.webhookSender(message.roomId, message.sender);
      const quote = reply === undefined ? "" : replyQuote(await this.authorName(rest, reply), messageLink(hook.guildId, reply.channelId, reply.messageId));
      const body = {
        content: `${quote}${content}`,
        username: webhookUsername(sender.displayName, message.sender),
        ...(sender.avatarUrl !== undefined ? { avatar_url: sender.avatarUrl } : {}),
        allowed_mentions: allowedMentions,
      };
      sent = await rest.executeWebhook(hook, body, files, channelId === key ? undefined : channelId).catch(async (err: unknown) => {
        // The webhook was deleted on Discord: a new one, once.
        if (!(err instanceof DiscordApiError && err.code === UNKNOWN_WEBHOOK)) throw err;
        const again = await this.lookUpWebhook(rest, key);
        if (again === null) throw err;
        return rest.executeWebhook(again, body, files, channelId === key ? undefined : channelId);
      });
    } else {
      sent = await rest.createMessage(
        channelId,
        {
          content,
          // A reply pings its author, as Discord's own client does by default.
          allowed_mentions: { ...allowedMentions, ...(reply !== undefined ? { replied_user: true } : {}) },
          // A reply whose target is gone is still sent, as a plain message.
          ...(reply !== undefined ? { message_reference: { message_id: reply.messageId, channel_id: reply.channelId, fail_if_not_exists: false } } : {}),
        },
        files,
      );
    }
    return { messageId: remoteMessageId(channelId === key ? sent.id : `${channelId}/${sent.id}`) };
  }

  /**
   * The channel's webhook: stored, else found (made by the bot, by its name) or created, once. Null in DMs and
   * when the bot lacks MANAGE_WEBHOOKS (Discord's 50013), remembered for a while so each message does not ask.
   */
  private async webhook(rest: DiscordRest, key: PortalKey): Promise<ChannelWebhook | null> {
    const stored = await this.login.webhook(key);
    return stored === null ? this.lookUpWebhook(rest, key) : stored === "none" ? null : stored;
  }

  /** Finds or makes the channel's webhook and stores what was found (none: remembered for a while). */
  private async lookUpWebhook(rest: DiscordRest, key: PortalKey): Promise<ChannelWebhook | null> {
    const found = await this.findOrCreateWebhook(rest, key).catch((err: unknown) => {
      if (err instanceof DiscordApiError && err.code === MISSING_PERMISSIONS) return null;
      throw err;
    });
    await this.login.saveWebhook(key, found);
    return found;
  }

  private async findOrCreateWebhook(rest: DiscordRest, key: PortalKey): Promise<ChannelWebhook | null> {
    const channel = await rest.channel(key);
    if (channel.guild_id === undefined || DM_CHANNEL_TYPES.has(channel.type)) return null;
    // Ours from before (a restart, a lost store): made by this bot, under the bridge's name.
    const [hooks, me] = await Promise.all([rest.channelWebhooks(key), rest.currentUser()]);
    const existing = hooks.find((w) => w.name === WEBHOOK_NAME && w.user?.id === me.id && w.token !== undefined);
    const hook = existing ?? (await rest.createWebhook(key, WEBHOOK_NAME));
    return hook.token === undefined ? null : { id: hook.id, token: hook.token, guildId: channel.guild_id };
  }

  /** The name of a replied-to message's author (a webhook message's own name), or undefined when it cannot be read. */
  private async authorName(rest: DiscordRest, target: { channelId: string; messageId: string }): Promise<string | undefined> {
    try {
      const message = await rest.message(target.channelId, target.messageId);
      return message.member?.nick ?? discordDisplayName(message.author);
    } catch (err) {
      if (err instanceof DiscordApiError && (err.status === 404 || err.status === 403)) return undefined;
      throw err;
    }
  }

  /**
   * A change to one of the person's messages through the channel's webhook (a thread's with `thread_id`): false
   * when there is none, or the message is not the webhook's (Discord's 404: sent as the bot), for the bot's way.
   */
  private async viaWebhook(key: PortalKey, channelId: string, change: (hook: ChannelWebhook, threadId: string | undefined) => Promise<unknown>): Promise<boolean> {
    const stored = await this.login.webhook(key);
    if (stored === null || stored === "none") return false;
    try {
      await change(stored, channelId === key ? undefined : channelId);
      return true;
    } catch (err) {
      if (err instanceof DiscordApiError && err.status === 404) return false;
      throw err;
    }
  }

  /** The thread whose starter message is `root` (a thread's id is its starter message's), started if need be. */
  private async threadOf(rest: DiscordRest, key: PortalKey, root: RemoteMessageId, text: string): Promise<string> {
    const { messageId } = splitMessageId(key, root);
    try {
      return (await rest.channel(messageId)).id;
    } catch (err) {
      if (!(err instanceof DiscordApiError && err.status === 404)) throw err;
    }
    const name = text.trim().slice(0, THREAD_NAME_LENGTH) || "Thread";
    return (await rest.startThread(key, messageId, name)).id;
  }

  /** The person's message, edited through the webhook that posted it, else as the bot's: its MESSAGE_UPDATE echo is recognised by the portal. */
  async handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void> {
    const { content, mentionedUserIds } = matrixToDiscord(message.content, this.ghostResolver());
    const { channelId, messageId } = splitMessageId(key, target);
    const rest = await this.rest();
    const body = { content, allowed_mentions: { parse: [], users: mentionedUserIds } };
    if (await this.viaWebhook(key, channelId, (hook, threadId) => rest.editWebhookMessage(hook, messageId, body, threadId))) return;
    await rest.editMessage(channelId, messageId, body);
  }

  async handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    await (await this.rest()).addReaction(channelId, messageId, emoji);
  }

  async handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    await (await this.rest()).removeOwnReaction(channelId, messageId, emoji);
  }

  async handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    const rest = await this.rest();
    if (await this.viaWebhook(key, channelId, (hook, threadId) => rest.deleteWebhookMessage(hook, messageId, threadId))) return;
    await rest.deleteMessage(channelId, messageId);
  }

  /** Typing from Matrix: Discord has no "stopped typing" (it lapses after about 10 s), so only a start is sent. */
  async handleMatrixTyping(key: PortalKey, typing: boolean): Promise<void> {
    if (typing) await (await this.rest()).triggerTyping(key);
  }
}

export const discordConnector: NetworkConnector = {
  networkId: DISCORD_NETWORK_ID,
  identity: (env) => loadDiscordConfig(env)?.identity ?? null,
  loadApi: (env) => {
    const config = loadDiscordConfig(env);
    if (!config) throw new DiscordConfigError("The Discord bridge is not enabled (DISCORD_BRIDGE_ENABLED)");
    const gateway = discordGateway(env);
    return new DiscordNetworkApi(config, {
      botToken: () => gateway.botToken(),
      names: (channels, roles, emojis) => gateway.names(channels, roles, emojis),
      webhook: (channelId) => gateway.webhook(channelId),
      saveWebhook: (channelId, hook) => gateway.saveWebhook(channelId, hook),
      webhookSender: (roomId, userId) => gateway.webhookSender(roomId, userId),
    });
  },
};
