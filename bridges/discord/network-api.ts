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
import { avatarUrl, channelRoute, discordDisplayName, hasContent, remoteMessage, splitMessageId } from "./d2m/convert-message";
import { discordGateway } from "./gateway/gateway-object";
import type { MessageCreate } from "./gateway/payloads";
import { spaceOrder } from "./management";
import { matrixToDiscord } from "./m2d/convert-message";
import { DiscordApiError, DiscordRest, MESSAGES_PAGE_LIMIT, type UploadFile } from "./rest";

/** The Discord user id behind one of our ghosts (`@_discord_<snowflake>:server`), else undefined. */
export function discordIdOfGhost(userId: string, serverName: string): string | undefined {
  const m = /^@([^:]+):(.+)$/.exec(userId);
  if (!m || m[2] !== serverName || !m[1]?.startsWith(DISCORD_GHOST_PREFIX)) return undefined;
  const id = m[1].slice(DISCORD_GHOST_PREFIX.length);
  return /^\d+$/.test(id) ? id : undefined;
}

/** What the API needs of the login (the gateway object): its token, and the names it learned from the gateway. */
export interface DiscordLoginSource {
  botToken(): Promise<string | null>;
  names(channelIds: string[], roleIds: string[]): Promise<{ channels: Record<string, string>; roles: Record<string, string> }>;
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
    const names = await this.login.names(ids(/<#(\d+)>/g), ids(/<@&(\d+)>/g));
    const serverName = this.config.identity.serverName;
    const ctx = {
      ghostUserId: (id: string) => `@${ghostLocalpart(remoteUserId(id))}:${serverName}`,
      cdnBaseUrl: this.config.cdnBaseUrl,
      channelName: (id: string) => names.channels[id],
      roleName: (id: string) => names.roles[id],
    };
    return messages.map((m) => remoteMessage(m, channelRoute(key), ctx));
  }

  /**
   * The person's message, in the channel or (a Matrix thread) the Discord thread on its root message, which is
   * started when there is none yet; a file goes as a multipart attachment with the caption as content.
   */
  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: RemoteMessageId }> {
    const rest = await this.rest();
    const { content, mentionedUserIds } = matrixToDiscord(message.content, this.ghostResolver());
    const channelId = message.threadRoot !== undefined ? await this.threadOf(rest, key, message.threadRoot, message.content.body) : key;
    const reply = message.replyTo === undefined ? undefined : splitMessageId(key, message.replyTo);
    const files: UploadFile[] =
      message.media?.bytes !== undefined ? [{ filename: message.media.filename, contentType: message.media.mimetype ?? "application/octet-stream", bytes: message.media.bytes }] : [];
    const sent = await rest.createMessage(
      channelId,
      {
        content,
        // Only what the person pinged through pills may ping: never @everyone or roles by accident; a reply pings
        // its author, as Discord's own client does by default.
        allowed_mentions: { parse: [], users: mentionedUserIds, ...(reply !== undefined ? { replied_user: true } : {}) },
        // A reply whose target is gone is still sent, as a plain message.
        ...(reply !== undefined ? { message_reference: { message_id: reply.messageId, channel_id: reply.channelId, fail_if_not_exists: false } } : {}),
      },
      files,
    );
    return { messageId: remoteMessageId(channelId === key ? sent.id : `${channelId}/${sent.id}`) };
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

  /** The bot's own message, edited (PATCH): its MESSAGE_UPDATE echo is recognised by the portal. */
  async handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void> {
    const { content, mentionedUserIds } = matrixToDiscord(message.content, this.ghostResolver());
    const { channelId, messageId } = splitMessageId(key, target);
    await (await this.rest()).editMessage(channelId, messageId, { content, allowed_mentions: { parse: [], users: mentionedUserIds } });
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
    await (await this.rest()).deleteMessage(channelId, messageId);
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
    return new DiscordNetworkApi(config, { botToken: () => gateway.botToken(), names: (channels, roles) => gateway.names(channels, roles) });
  },
};
