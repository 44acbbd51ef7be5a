import { type PortalKey, type RemoteMessageId, portalKey, remoteMessageId, remoteUserId } from "../core/ids";
import type {
  BackfillingNetworkApi,
  ChatInfo,
  EditHandlingNetworkApi,
  MatrixMessage,
  MediaDownloadingNetworkApi,
  NetworkConnector,
  ReactionHandlingNetworkApi,
  ReactionRemovingNetworkApi,
  ReadReceiptHandlingNetworkApi,
  RedactionHandlingNetworkApi,
  RemoteMessage,
} from "../core/network";
import { slackBridge } from "./bridge-object";
import type { SlackTokens } from "./tokens";
import { SLACK_NETWORK_ID, type SlackConfig, SlackConfigError, ghostLocalpart, loadSlackConfig, slackUserOfGhost } from "./config";
import { unicodeToShortcode } from "./emoji";
import { matrixToSlack } from "./m2s/convert-message";
import { SlackMessage } from "./payloads";
import { compareTs, mentionedUsers } from "./s2m/convert-message";
import { type SlackLookup, type SlackProfile, convertMessage } from "./s2m/dispatcher";
import { SlackWebApi } from "./web-api";

/** The Slack conversation of a portal key (`TEAM:CHANNEL`). */
export function splitPortalKey(key: PortalKey): { team: string; channel: string } {
  const [team = "", channel = ""] = key.split(":", 2);
  return { team, channel };
}

/** What the connector needs from the bridge object (and the network), injected so tests can stand in. */
export interface SlackNetworkDeps {
  tokensFor(team: string): Promise<SlackTokens | null>;
  profiles(team: string, userIds: string[]): Promise<Record<string, SlackProfile>>;
  customEmoji(team: string, names: string[]): Promise<Record<string, string>>;
  /** The workspace's name for a custom emoji image the bridge uploaded (mxc://), if it still has one. */
  customEmojiName(team: string, mxc: string): Promise<string | undefined>;
  expectReactionEcho(channel: string, ts: string, name: string): Promise<void>;
  authFailed(team: string, error: string): Promise<void>;
  fetch: typeof fetch;
}

/** A workspace's Web API clients: the bot reads; the person's user token, when there is one, writes. */
interface SlackClients {
  bot: SlackWebApi;
  user: SlackWebApi | null;
  writer: SlackWebApi;
}

/** History pages: Slack's largest page size. */
const PAGE_SIZE = 200;
/** Gap fill looks for threads with new replies among the parents up to a week before the gap ... */
const THREAD_LOOKBACK_SECONDS = 7 * 24 * 60 * 60;
/** ... and among at most this many of them (five history pages). */
const THREAD_SCAN_LIMIT = 1000;
/** files.info is asked this many times (backing off) for the message a shared file became. */
const SHARE_LOOKUPS = 6;

/**
 * The configured login's side of Slack (one portal key = one conversation). The bot token reads; the person's user
 * token, when there is one, writes (so messages, edits, reactions and read markers are the person's own), else the
 * bot posts under the person's name.
 */
export class SlackNetworkApi
  implements
    EditHandlingNetworkApi,
    ReactionHandlingNetworkApi,
    ReactionRemovingNetworkApi,
    RedactionHandlingNetworkApi,
    ReadReceiptHandlingNetworkApi,
    BackfillingNetworkApi,
    MediaDownloadingNetworkApi
{
  private readonly clients = new Map<string, Promise<SlackClients>>();
  private readonly deps: SlackNetworkDeps;

  constructor(
    env: Env,
    private readonly config: SlackConfig,
    deps: Partial<SlackNetworkDeps> = {},
  ) {
    const bridge = () => slackBridge(env);
    this.deps = {
      tokensFor: (team) => bridge().tokensFor(team),
      profiles: (team, userIds) => bridge().userProfiles(team, userIds),
      customEmoji: (team, names) => bridge().customEmoji(team, names),
      customEmojiName: (team, mxc) => bridge().customEmojiName(team, mxc),
      expectReactionEcho: (channel, ts, name) => bridge().expectReactionEcho(channel, ts, name),
      authFailed: (team, error) => bridge().authFailed(team, error),
      fetch: (input, init) => fetch(input, init),
      ...deps,
    };
  }

  /** A workspace's clients, from its tokens (the bridge object has them: installed, or configured). */
  private clientsFor(team: string): Promise<SlackClients> {
    let clients = this.clients.get(team);
    if (clients === undefined) {
      clients = this.deps.tokensFor(team).then((tokens) => {
          if (tokens === null) throw new Error(`No Slack tokens for workspace ${team}: say "login" in the management room`);
          const client = (token: string) =>
            new SlackWebApi({ baseUrl: this.config.apiBaseUrl, token, fetch: this.deps.fetch, onAuthError: (error) => this.deps.authFailed(team, error) });
          const bot = client(tokens.bot);
          const user = tokens.user === undefined ? null : client(tokens.user);
          return { bot, user, writer: user ?? bot };
        });
      this.clients.set(team, clients);
    }
    return clients;
  }

  private conversation(key: PortalKey): Promise<SlackClients & { team: string; channel: string }> {
    const { team, channel } = splitPortalKey(key);
    return this.clientsFor(team).then((clients) => ({ ...clients, team, channel }));
  }

  private lookup(): SlackLookup {
    const { serverName } = this.config.identity;
    return {
      ghostUserId: (team, user) => `@${ghostLocalpart(remoteUserId(`${team}:${user}`))}:${serverName}`,
      profiles: (team, userIds) => this.deps.profiles(team, userIds),
      customEmoji: (team, names) => this.deps.customEmoji(team, names),
    };
  }

  /** The conversation's name and topic; DMs are direct rooms named after the other person; the workspace is the space. */
  async getChatInfo(key: PortalKey): Promise<ChatInfo> {
    const { bot, team, channel: id } = await this.conversation(key);
    const [channel, workspace] = await Promise.all([bot.conversationsInfo(id), bot.teamInfo().catch(() => null)]);
    const info: ChatInfo = { name: channel.name ?? `Slack conversation ${channel.id}` };
    if (channel.is_im || channel.is_mpim) info.isDirect = true;
    if (channel.is_im && channel.user !== undefined) {
      const other = (await this.deps.profiles(team, [channel.user]))[channel.user];
      info.name = other?.name ?? channel.user;
      if (other?.avatarUrl !== undefined) info.avatarUrl = other.avatarUrl;
    }
    const topic = channel.topic?.value || channel.purpose?.value;
    if (topic) info.topic = topic;
    if (workspace !== null) {
      info.space = { key: portalKey(team), name: workspace.name };
      const icon = workspace.icon;
      if (icon?.image_132 !== undefined && icon.image_default !== true) info.space.avatarUrl = icon.image_132;
    }
    return info;
  }

  private text(key: PortalKey, message: MatrixMessage): string {
    const { team } = splitPortalKey(key);
    return matrixToSlack(message.content, (userId) => {
      const ghost = slackUserOfGhost(userId, this.config.identity.serverName);
      return ghost?.team === team ? ghost.user : undefined;
    });
  }

  /**
   * Text to chat.postMessage, a file through the external upload flow; into the thread when the Matrix message is
   * in one (a plain reply starts or joins the replied message's thread: Slack's way of answering).
   */
  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: RemoteMessageId }> {
    const { writer, user, channel } = await this.conversation(key);
    const text = this.text(key, message);
    const threadTs = message.threadRoot ?? message.replyTo;
    const media = message.media;
    if (media?.bytes !== undefined) {
      const fileId = await writer.uploadFile(channel, {
        filename: media.filename,
        bytes: media.bytes,
        title: text === "" ? media.filename : text,
        ...(threadTs !== undefined ? { threadTs } : {}),
      });
      return { messageId: remoteMessageId(await this.sharedAt(writer, fileId, channel)) };
    }
    // The ts Slack gives the message is its id: stored in the message map, it marks the echo event as ours.
    const ts = await writer.postMessage(channel, text, {
      ...(threadTs !== undefined ? { threadTs } : {}),
      ...(user === null ? { username: message.sender.replace(/^@/, "").split(":")[0] ?? message.sender } : {}),
    });
    return { messageId: remoteMessageId(ts) };
  }

  /** The ts of the message a file was shared as: Slack fills files.info's `shares` shortly after the upload. */
  private async sharedAt(writer: SlackWebApi, fileId: string, channel: string): Promise<string> {
    for (let attempt = 0; attempt < SHARE_LOOKUPS; attempt++) {
      const shares = (await writer.filesInfo(fileId)).shares;
      const ts = (shares?.public?.[channel] ?? shares?.private?.[channel])?.[0]?.ts;
      if (ts !== undefined) return ts;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
    // Not shared yet: the file id stands in (its echo may then show twice; edits and reactions to it cannot apply).
    console.warn(`slack: file ${fileId} has no share in ${channel} yet`);
    return fileId;
  }

  async handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void> {
    const { writer, channel } = await this.conversation(key);
    await writer.updateMessage(channel, target, this.text(key, message));
  }

  async handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void> {
    const { writer, channel } = await this.conversation(key);
    await writer.deleteMessage(channel, target);
  }

  /** An emoji Slack has a name for (custom ones as `:name:`); others are not sent. The echo is expected first. */
  /** A reaction key as a Slack reaction name: a unicode emoji's or `:name:`'s, or a custom emoji image's (mxc://). */
  private async reactionName(key: PortalKey, emoji: string): Promise<string | undefined> {
    return emoji.startsWith("mxc://") ? this.deps.customEmojiName(splitPortalKey(key).team, emoji) : unicodeToShortcode(emoji);
  }

  async handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const name = await this.reactionName(key, emoji);
    if (name === undefined) return;
    const { writer, channel } = await this.conversation(key);
    await this.deps.expectReactionEcho(channel, target, name);
    await writer.addReaction(channel, target, name);
  }

  async handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    const name = await this.reactionName(key, emoji);
    if (name === undefined) return;
    const { writer, channel } = await this.conversation(key);
    await writer.removeReaction(channel, target, name);
  }

  /**
   * Slack's files (`url_private`, `https://files.slack.com/files-pri/<team>-<file>/...`) need that workspace's bot
   * token; it goes to Slack's file host (or the configured API's own origin, for a test double) only, never to
   * another host such as the public avatar CDN.
   */
  async downloadRemoteMedia(url: string): Promise<Response> {
    const target = new URL(url);
    const api = new URL(this.config.apiBaseUrl);
    const team = /^\/files-pri\/(T[A-Z0-9]+)-/.exec(target.pathname)?.[1];
    const slackHost = target.protocol === "https:" ? target.hostname === "files.slack.com" : target.origin === api.origin;
    if (!slackHost || team === undefined) return this.deps.fetch(url);
    return (await this.clientsFor(team)).bot.download(url);
  }

  /** conversations.mark needs a user token: with the bot's alone there is no read marker to move. */
  async handleMatrixReadReceipt(key: PortalKey, target: RemoteMessageId): Promise<void> {
    const { user, channel } = await this.conversation(key);
    if (user !== null) await user.markRead(channel, target);
  }

  /** Every page of a conversations.history / conversations.replies read, until `enough` says stop. */
  private async pages(
    bot: SlackWebApi,
    channel: string,
    opts: { oldest?: string; threadTs?: string; limit: number },
    enough: (read: { ts: string }[]) => boolean = () => false,
  ): Promise<{ ts: string }[]> {
    const raw: { ts: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await bot.messagePage(channel, { ...opts, ...(cursor !== undefined ? { cursor } : {}) });
      raw.push(...page.messages);
      cursor = page.has_more ? page.response_metadata?.next_cursor || undefined : undefined;
    } while (cursor !== undefined && !enough(raw));
    return raw;
  }

  /**
   * Messages after `after` (a gap), or the newest `limit` (null: a new room), oldest first, thread replies included.
   *
   * conversations.history lists a channel's top-level messages (newest first); a thread's replies are only in
   * conversations.replies of its parent, which history shows with `reply_count` and `latest_reply`. So for a gap,
   * history is read back to THREAD_LOOKBACK_SECONDS before `after` (at most THREAD_SCAN_LIMIT messages older than
   * `after`), and every parent there whose latest reply is newer than `after` has its replies after `after` read and
   * merged in, by ts. A thread whose parent is older than that window is not found (its replies are lost to the gap).
   * For a new room: the newest `limit` top-level messages, and all the replies of those among them with threads.
   */
  async fetchMessages(key: PortalKey, after: RemoteMessageId | null, limit: number): Promise<RemoteMessage[]> {
    const { bot, team, channel } = await this.conversation(key);
    // What Slack's pages hold that is not a message the bridge reads is left out.
    const parse = (raw: unknown[]): SlackMessage[] => raw.flatMap((m) => SlackMessage.safeParse(m).data ?? []);
    const isNew = (ts: string) => after === null || compareTs(ts, after) > 0;
    // Slack pages newest first: every page after `after` and the thread window before it, or just the newest `limit`.
    const history = parse(
      after === null
        ? await this.pages(bot, channel, { limit: Math.min(limit, PAGE_SIZE) }, (read) => read.length >= limit)
        : await this.pages(
            bot,
            channel,
            { oldest: tsMinusSeconds(after, THREAD_LOOKBACK_SECONDS), limit: PAGE_SIZE },
            (read) => read.filter((m) => !isNew(m.ts)).length >= THREAD_SCAN_LIMIT,
          ),
    ).sort((a, b) => compareTs(a.ts, b.ts));
    const top = history.filter((m) => isNew(m.ts));
    const shown = after === null ? top.slice(-limit) : top;
    const parents = (after === null ? shown : history).filter((m) => (m.reply_count ?? 0) > 0 && m.latest_reply !== undefined && isNew(m.latest_reply));
    const seen = new Set(shown.map((m) => m.ts));
    const replies: SlackMessage[] = [];
    for (const parent of parents) {
      const thread = parse(await this.pages(bot, channel, { threadTs: parent.ts, limit: PAGE_SIZE, ...(after !== null ? { oldest: after } : {}) }));
      // The parent comes first in its replies; a broadcast reply is in history too: each message once.
      for (const reply of thread) {
        if (reply.ts === parent.ts || reply.thread_ts !== parent.ts || !isNew(reply.ts) || seen.has(reply.ts)) continue;
        seen.add(reply.ts);
        replies.push(reply);
      }
    }
    const messages = [...shown, ...replies].sort((a, b) => compareTs(a.ts, b.ts));
    // Every author's and mentioned user's profile asked for once.
    const users = messages.flatMap((m) => (m.user === undefined ? [] : [m.user, ...mentionedUsers(m.text)]));
    const known = users.length === 0 ? {} : await this.deps.profiles(team, [...new Set(users)]);
    const lookup: SlackLookup = { ...this.lookup(), profiles: async (_team, ids) => Object.fromEntries(ids.flatMap((id) => (known[id] ? [[id, known[id]]] : []))) };
    const out: RemoteMessage[] = [];
    for (const message of messages) {
      // A gap is bridged `limit` at a time, oldest first (the next call starts after the last one bridged).
      if (after !== null && out.length >= limit) break;
      const converted = await convertMessage(lookup, team, channel, message);
      if (converted !== null) out.push(converted);
    }
    return out;
  }
}

/** A ts `seconds` earlier (not before the epoch), keeping its microseconds. */
function tsMinusSeconds(ts: string, seconds: number): string {
  const [whole = "0", fraction = "000000"] = ts.split(".");
  return `${Math.max(0, Number(whole) - seconds)}.${fraction}`;
}

export const slackConnector: NetworkConnector = {
  networkId: SLACK_NETWORK_ID,
  identity: (env) => loadSlackConfig(env)?.identity ?? null,
  loadApi: (env) => {
    const config = loadSlackConfig(env);
    if (!config) throw new SlackConfigError("The Slack bridge is not enabled (SLACK_BRIDGE_ENABLED)");
    return new SlackNetworkApi(env, config);
  },
};
