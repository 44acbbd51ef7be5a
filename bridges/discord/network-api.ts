import { type PortalKey, type RemoteMessageId, portalKey, remoteMessageId, remoteUserId } from "../core/ids";
import type {
  BackfillingNetworkApi,
  ChatInfo,
  EditHandlingNetworkApi,
  MatrixMessage,
  NetworkConnector,
  ReactionHandlingNetworkApi,
  ReactionRemovingNetworkApi,
  ReadReceiptHandlingNetworkApi,
  RedactionHandlingNetworkApi,
  RemoteMessage,
  SentMessage,
  TypingHandlingNetworkApi,
} from "../core/network";
import { DM_CHANNEL_TYPES } from "./channel-types";
import { DISCORD_GHOST_PREFIX, DISCORD_NETWORK_ID, type DiscordConfig, DiscordConfigError, ghostLocalpart, loadDiscordConfig } from "./config";
import { type CustomEmoji, type OwnAuthors, avatarUrl, channelRoute, customEmojis, discordDisplayName, hasContent, isOwnMessage, remoteMessage, splitMessageId } from "./d2m/convert-message";
import { discordGateway } from "./gateway/gateway-object";
import type { MessageCreate } from "./gateway/payloads";
import { spaceOrder } from "./management";
import { matrixToDiscord } from "./m2d/convert-message";
import { DiscordApiError, type DiscordLogin, DiscordRest, MESSAGES_PAGE_LIMIT, MISSING_PERMISSIONS, UNKNOWN_WEBHOOK, type UploadFile, type WebhookCredentials } from "./rest";
import { WEBHOOK_NAME, leadingReplyQuote, messageLink, replyQuote, webhookUsername } from "./m2d/webhook";
import { splitDiscordContent } from "./m2d/split";
import { bridgeNonce } from "./nonce";

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
 * What the API needs of the login (the gateway object): its token and kind, the names it learned from the gateway,
 * the channels' webhooks it stores, and the person's profile in a room.
 */
export interface DiscordLoginSource {
  /** The token in use and whose it is (the bot's, or the person's own user account's); null while logged out. */
  credentials(): Promise<DiscordLogin | null>;
  /** Channel and role names, and custom emoji images (uploaded when new), for messages read from the history. */
  names(channelIds: string[], roleIds: string[], emojis: CustomEmoji[]): Promise<{ channels: Record<string, string>; roles: Record<string, string>; emojis: Record<string, string> }>;
  /** The channel's stored webhook; "none" when it recently proved unusable (a DM, no MANAGE_WEBHOOKS); null: not looked up. */
  webhook(channelId: string): Promise<ChannelWebhook | "none" | null>;
  /** Stores the channel's webhook (null: none usable, looked up again later; also forgets a deleted one). */
  saveWebhook(channelId: string, hook: ChannelWebhook | null): Promise<void>;
  /** The Matrix user's display name and avatar (as a public URL) in a room. */
  webhookSender(roomId: string, userId: string): Promise<WebhookSender>;
  /** Who posts for the bridge: its messages in the history are the person's, never brought back. */
  ownAuthors(): Promise<OwnAuthors>;
  /** The channel's threads not archived (from GUILD_CREATE, THREAD_CREATE / THREAD_UPDATE): a gap fill reads them too. */
  activeThreads(channelId: string): Promise<string[]>;
  /** The custom emoji whose image the bridge uploaded as `mxc` (a reaction key), or null. */
  customEmojiOfMxc(mxc: string): Promise<{ id: string; name: string | null } | null>;
}

/** Snowflakes sort by time: compare them as numbers. */
const bySnowflake = (a: { id: string }, b: { id: string }) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0);
/** The name a thread created from Matrix gets: the start of its first message. */
const THREAD_NAME_LENGTH = 40;

/**
 * The logged-in account's side of Discord (the bot's, or opt-in the person's own user account): chat info, history,
 * and sending (one portal key = one channel id).
 */
export class DiscordNetworkApi
  implements
    EditHandlingNetworkApi,
    ReactionHandlingNetworkApi,
    ReactionRemovingNetworkApi,
    RedactionHandlingNetworkApi,
    TypingHandlingNetworkApi,
    ReadReceiptHandlingNetworkApi,
    BackfillingNetworkApi
{
  private restClient: Promise<DiscordRest> | undefined;

  constructor(
    private readonly config: DiscordConfig,
    private readonly login: DiscordLoginSource,
    /** Tests pass a fake Discord; else the runtime's fetch. */
    private readonly fetcher?: typeof fetch,
  ) {}

  private rest(): Promise<DiscordRest> {
    this.restClient ??= this.login.credentials().then((login) => {
      if (login === null) throw new Error('The Discord bridge is not logged in (say "login <bot token>" in a management room)');
      return new DiscordRest({ baseUrl: this.config.apiBaseUrl, token: login.token, kind: login.kind, ...(this.fetcher ? { fetch: this.fetcher } : {}) });
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
      const cursor = splitMessageId(key, after).messageId;
      fetched.push(...(await this.messagesAfter(rest, key, cursor, limit)));
      // A gap fill: the messages of the channel's active threads too (after the same point: snowflakes order by time),
      // each thread's failure (deleted meanwhile) on its own. All are bridged oldest first, each once.
      for (const thread of await this.login.activeThreads(key)) {
        try {
          fetched.push(...(await this.messagesAfter(rest, thread, cursor, limit)));
        } catch (err) {
          console.warn(`discord gap fill of thread ${thread}: ${(err as Error).message}`);
        }
      }
    }
    const own = await this.login.ownAuthors();
    const messages = fetched
      .sort(bySnowflake)
      .filter((m) => hasContent(m) && !isOwnMessage(m, own))
      .slice(0, limit);
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
    return messages.map((m) => remoteMessage(m, m.channel_id === key ? channelRoute(key) : { portalKey: key, threadId: m.channel_id }, ctx));
  }

  /** Up to `limit` of a channel's messages after the message `cursor`, oldest first, 100 a page. */
  private async messagesAfter(rest: DiscordRest, channelId: string, cursor: string, limit: number): Promise<MessageCreate[]> {
    const fetched: MessageCreate[] = [];
    while (fetched.length < limit) {
      const page = (await rest.messages(channelId, { after: cursor, limit: Math.min(MESSAGES_PAGE_LIMIT, limit - fetched.length) })).sort(bySnowflake);
      fetched.push(...page);
      const last = page[page.length - 1];
      if (page.length < MESSAGES_PAGE_LIMIT || last === undefined) break;
      cursor = last.id;
    }
    return fetched;
  }

  /**
   * The person's message, in the channel or (a Matrix thread) the Discord thread on its root message, which is
   * started when there is none yet; a file goes as a multipart attachment with the caption as content. In a guild
   * channel it is posted through the channel's webhook, with the person's name and avatar; in a DM, or when the bot
   * may not manage webhooks, as the bot's own message (a real reply then). With a user login it is always the
   * person's own message, posted as them (never through a webhook), a real reply.
   */
  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<SentMessage> {
    const rest = await this.rest();
    const { content, mentionedUserIds } = matrixToDiscord(message.content, this.ghostResolver());
    const channelId = message.threadRoot !== undefined ? await this.threadOf(rest, key, message.threadRoot, message.content.body) : key;
    const reply = message.replyTo === undefined ? undefined : splitMessageId(key, message.replyTo);
    const files: UploadFile[] =
      message.media?.bytes !== undefined ? [{ filename: message.media.filename, contentType: message.media.mimetype ?? "application/octet-stream", bytes: message.media.bytes }] : [];
    // Only what the person pinged through pills may ping: never @everyone or roles by accident.
    const allowedMentions = { parse: [], users: mentionedUserIds };
    const hook = rest.kind === "user" ? null : await this.webhook(rest, key);
    const thread = channelId === key ? undefined : channelId;
    /** Posts one Discord message of the text; the first carries the files and the reply. */
    let post: (part: string, first: boolean) => Promise<{ id: string }>;
    let text = content;
    if (hook !== null) {
      const sender = await this.login.webhookSender(message.roomId, message.sender);
      const quote = reply === undefined ? "" : replyQuote(await this.authorName(rest, reply), messageLink(hook.guildId, reply.channelId, reply.messageId));
      text = `${quote}${content}`;
      let current = hook;
      post = (part, first) => {
        const body = {
          content: part,
          username: webhookUsername(sender.displayName, message.sender),
          ...(sender.avatarUrl !== undefined ? { avatar_url: sender.avatarUrl } : {}),
          allowed_mentions: allowedMentions,
        };
        return rest.executeWebhook(current, body, first ? files : [], thread).catch(async (err: unknown) => {
          // The webhook was deleted on Discord: a new one, once.
          if (!(err instanceof DiscordApiError && err.code === UNKNOWN_WEBHOOK)) throw err;
          const again = await this.lookUpWebhook(rest, key);
          if (again === null) throw err;
          current = again;
          return rest.executeWebhook(again, body, first ? files : [], thread);
        });
      };
    } else {
      post = (part, first) =>
        rest.createMessage(
          channelId,
          {
            content: part,
            // A reply pings its author, as Discord's own client does by default.
            allowed_mentions: { ...allowedMentions, ...(first && reply !== undefined ? { replied_user: true } : {}) },
            // A reply whose target is gone is still sent, as a plain message.
            ...(first && reply !== undefined ? { message_reference: { message_id: reply.messageId, channel_id: reply.channelId, fail_if_not_exists: false } } : {}),
            // As the person's own account: the bridge's nonce tells each part's echo from what they write in a Discord app.
            ...(rest.kind === "user" ? { nonce: bridgeNonce() } : {}),
          },
          first ? files : [],
        );
    }
    // Over Discord's 2,000 characters: several messages, in order. The first stands for the Matrix event; the others'
    // echoes are dropped as the bridge's own posts (isOwnMessage). Once the first is out, a failed later part is
    // logged and the rest left out: failing the event would send it all again.
    const [head = "", ...tail] = splitDiscordContent(text);
    const sent = await post(head, true);
    const extras: { id: string }[] = [];
    for (const [i, part] of tail.entries()) {
      try {
        extras.push(await post(part, false));
      } catch (err) {
        console.warn(`${message.eventId}: parts ${i + 2}-${tail.length + 1} not sent to Discord: ${(err as Error).message}`);
        break;
      }
    }
    const id = (posted: { id: string }) => remoteMessageId(channelId === key ? posted.id : `${channelId}/${posted.id}`);
    // The later parts too: their echoes and history are the person's own, and a redaction deletes them.
    return { messageId: id(sent), ...(extras.length > 0 ? { extraMessageIds: extras.map(id) } : {}) };
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
   * Never with a user login: the person's messages are their own (a webhook stored by an earlier bot login too).
   */
  private async viaWebhook(key: PortalKey, channelId: string, change: (hook: ChannelWebhook, threadId: string | undefined) => Promise<unknown>): Promise<boolean> {
    if ((await this.rest()).kind === "user") return false;
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
    // Only the first Discord message of a long one is mapped: it takes what fits (Discord refuses more).
    const body = (text: string) => ({ content: splitDiscordContent(text)[0] ?? "", allowed_mentions: { parse: [], users: mentionedUserIds } });
    const viaWebhook = await this.viaWebhook(key, channelId, async (hook, threadId) => {
      // A reply posted through the webhook starts with its quoted jump link: the edit keeps it.
      const quote = leadingReplyQuote((await rest.message(channelId, messageId).catch(() => null))?.content ?? "");
      return rest.editWebhookMessage(hook, messageId, body(`${quote}${content}`), threadId);
    });
    if (!viaWebhook) await rest.editMessage(channelId, messageId, body(content));
  }

  async handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    const name = await this.discordEmoji(emoji);
    if (name !== null) await (await this.rest()).addReaction(channelId, messageId, name);
  }

  async handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    const name = await this.discordEmoji(emoji);
    if (name !== null) await (await this.rest()).removeOwnReaction(channelId, messageId, name);
  }

  /**
   * A reaction key as Discord names the emoji: a unicode emoji as itself; the mxc URI of a custom emoji image the
   * bridge uploaded as `name:id` (Discord's form; `_` for a name not known yet); null, logged, for any other image.
   */
  private async discordEmoji(key: string): Promise<string | null> {
    if (!key.startsWith("mxc://")) return key;
    const custom = await this.login.customEmojiOfMxc(key);
    if (custom === null) console.warn(`discord: reaction ${key} not sent: not a Discord custom emoji`);
    return custom === null ? null : `${custom.name ?? "_"}:${custom.id}`;
  }

  async handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void> {
    const { channelId, messageId } = splitMessageId(key, target);
    const rest = await this.rest();
    if (await this.viaWebhook(key, channelId, (hook, threadId) => rest.deleteWebhookMessage(hook, messageId, threadId))) return;
    await rest.deleteMessage(channelId, messageId);
  }

  /**
   * The person read up to `target`: with a user login, Discord's read state moves there (POST .../ack), so their
   * other Discord clients show the channel read. A bot has no read state: nothing is sent. The method is there for
   * both kinds because the core detects capabilities by method presence (`canMarkRead`) and this API is made before
   * the login's kind is known (it is read from the gateway object on first use); for a bot login a receipt is thus
   * a no-op (and while logged out), which only costs the portal the kind's lookup.
   */
  async handleMatrixReadReceipt(key: PortalKey, target: RemoteMessageId): Promise<void> {
    // Asked first, so that no login at all (after `logout`) is as quiet as a bot's.
    if ((await this.login.credentials())?.kind !== "user") return;
    const { channelId, messageId } = splitMessageId(key, target);
    await (await this.rest()).ackMessage(channelId, messageId);
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
      credentials: () => gateway.login(),
      names: (channels, roles, emojis) => gateway.names(channels, roles, emojis),
      webhook: (channelId) => gateway.webhook(channelId),
      saveWebhook: (channelId, hook) => gateway.saveWebhook(channelId, hook),
      webhookSender: (roomId, userId) => gateway.webhookSender(roomId, userId),
      ownAuthors: () => gateway.ownAuthors(),
      customEmojiOfMxc: (mxc) => gateway.customEmojiOfMxc(mxc),
      activeThreads: (channelId) => gateway.activeThreads(channelId),
    });
  },
};
