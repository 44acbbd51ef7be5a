import { DurableObject } from "cloudflare:workers";
import { GatewayCloseCodes, GatewayIntentBits, GatewayOpcodes } from "discord-api-types/gateway/v10";
import { z } from "zod";
import { type PortalKey, portalKey, remoteUserId } from "../../core/ids";
import { homeserverFetch } from "../../core/matrix/homeserver";
import { MatrixIntent } from "../../core/matrix/intent";
import { portalStub } from "../../core/portals";
import { canSealTokens, openToken, sealToken } from "../../core/secrets";
import { DM_CHANNEL_TYPES, THREAD_CHANNEL_TYPES } from "../channel-types";
import { DISCORD_NETWORK_ID, type DiscordConfig, ghostLocalpart, loadDiscordConfig } from "../config";
import { type ChannelRoute, type CustomEmoji, type D2mContext, type OwnAuthors, channelRoute } from "../d2m/convert-message";
import { readCapped } from "../../core/download";
import { type DispatchContext, dispatch } from "../d2m/dispatcher";
import { type DiscordBridgeControl, runDiscordCommand } from "../management";
import { type ApiChannel, type ApiUser, DiscordApiError, type DiscordLogin, DiscordRest, type LoginKind } from "../rest";
import { identifyData } from "./identify";
import { Channel, GatewayFrame, GuildCreate, Hello, Ready, ReadyState } from "./payloads";
import { MetaTable, ensureSchema } from "../../../homeserver/src/util/durable-sqlite";
import type { ChannelWebhook, WebhookSender } from "../network-api";
import { publicAvatarUrl } from "../public-media";

/** What a webhook shows of the person: their m.room.member content. */
const MemberContent = z.object({ displayname: z.string().nullish(), avatar_url: z.string().nullish() });

const SCHEMA_VERSION = 5;
/** What the bridge needs: guild and DM messages with their content (a privileged intent: enable it for the bot). */
const INTENTS =
  GatewayIntentBits.Guilds |
  GatewayIntentBits.GuildMessages |
  GatewayIntentBits.GuildMessageReactions |
  GatewayIntentBits.GuildMessageTyping |
  GatewayIntentBits.DirectMessages |
  GatewayIntentBits.DirectMessageReactions |
  GatewayIntentBits.DirectMessageTyping |
  GatewayIntentBits.MessageContent;
/** Largest custom emoji image uploaded (Discord's own limit is 256 KiB). */
const MAX_EMOJI_BYTES = 1024 * 1024;
/** How long a channel found without a usable webhook (a DM, no MANAGE_WEBHOOKS) is not asked again. */
const NO_WEBHOOK_RECHECK_MS = 60 * 60_000;
/** The watchdog alarm while there is no connection to beat on: reconnects (resuming) a dropped gateway. */
const WATCHDOG_MS = 30_000;
const RECONNECT_SOON_MS = 1_000;
/** How far behind an alarm's time the clock inside it may read. */
const CLOCK_SKEW_MS = 250;
/** Invalid session (op 9): wait 1-5 s (Discord's advice), doubled for each one in a row, at most a minute. */
const INVALID_SESSION_MIN_MS = 1_000;
const INVALID_SESSION_JITTER_MS = 4_000;
const INVALID_SESSION_MAX_MS = 60_000;
/** How long the gateway may stay unreachable before the management rooms are told. */
const LONG_OUTAGE_MS = 5 * 60_000;
/** How many missed messages per channel a gap fill brings in after a session is lost. */
const GAP_FILL_LIMIT = 5_000;
/** Close codes after which reconnecting cannot help (bad token, bad intents...): the bridge stops and says why. */
const FATAL_CLOSE_CODES = new Set<number>([
  GatewayCloseCodes.AuthenticationFailed,
  GatewayCloseCodes.InvalidShard,
  GatewayCloseCodes.ShardingRequired,
  GatewayCloseCodes.InvalidAPIVersion,
  GatewayCloseCodes.InvalidIntents,
  GatewayCloseCodes.DisallowedIntents,
]);

export interface GatewayStatus {
  enabled: boolean;
  /** A token is known: stored by `login` (a bot's, or opt-in a user's), or configured (a bot's). */
  loggedIn: boolean;
  /** What the token logs in as: the bridge's bot, or the person's own user account; null while logged out. */
  loginKind: LoginKind | null;
  connected: boolean;
  /** READY (or RESUMED) seen on the current connection. */
  ready: boolean;
  sessionId: string | null;
  sequence: number | null;
  /** The logged-in account's Discord user id (from READY): the bot's, or with a user token the person's own. */
  botUserId: string | null;
  /** How many times the gateway was identified / resumed since this object's storage began. */
  identifies: number;
  resumes: number;
  /** Invalid sessions (op 9) in a row, and the IDENTIFYs Discord still allows today (GET /gateway/bot). */
  invalidSessions: number;
  identifyRemaining: number | null;
  fatalError: string | null;
}

/**
 * The Discord gateway connection of the bridge's bot (one object), on the runtime's WebSocket API: HELLO, then
 * IDENTIFY (or RESUME with the stored session), heartbeats driven by this object's alarm, and every dispatch handed
 * to the d2m dispatcher in arrival order. The session id, last sequence and resume URL are stored, so a dropped
 * socket or an evicted object resumes from the alarm without losing events; a lost session is re-identified (with
 * backoff, within the daily budget) and every bridged channel gap-filled from its history.
 * Also keeps the login (a bot token or, opt-in, the person's user token: sealed, with its kind), the bridged
 * channels, the room -> portal index the transaction route reads, and the management rooms, where it answers
 * commands and says when the login breaks or recovers.
 */
export class DiscordGatewayObject extends DurableObject<Env> implements DiscordBridgeControl {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;
  private socket: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  /** HELLO's heartbeat interval on the current connection; null before HELLO. */
  private heartbeatMs: number | null = null;
  private acked = true;
  private ready = false;
  private dispatchTail: Promise<void> = Promise.resolve();
  /**
   * The last sequence number received on this session. Storage keeps the last one *handled* (its dispatch done), so
   * an evicted object, whose queued dispatches are gone, resumes from there and Discord sends them again.
   */
  private receivedSeq: number | null = null;
  /** The login in use (opened from storage, or the configured bot token); undefined until first read. */
  private loginCache: DiscordLogin | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      const from = Number(this.store.get("schema_version") ?? "0");
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS portal_rooms (room_id TEXT PRIMARY KEY, portal_key TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS management_rooms (room_id TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS bridged_channels (channel_id TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS channels (id TEXT PRIMARY KEY, type INTEGER NOT NULL, parent_id TEXT, name TEXT);
        CREATE TABLE IF NOT EXISTS roles (id TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS webhooks (
          channel_id TEXT PRIMARY KEY, webhook_id TEXT, token_sealed TEXT, guild_id TEXT, checked_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS emojis (id TEXT PRIMARY KEY, mxc TEXT NOT NULL);
      `);
      // Version 5: a channel's guild (a member's new nickname reaches its guild's portals), whether a thread is archived
      // (a gap fill reads the others), a custom emoji's name.
      if (from < 5) {
        this.sql.exec("ALTER TABLE channels ADD COLUMN guild_id TEXT; ALTER TABLE channels ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;");
        this.sql.exec("ALTER TABLE emojis ADD COLUMN name TEXT;");
      }
    });
  }

  private count(key: string): number {
    return Number(this.store.get(key) ?? "0");
  }

  private config(): DiscordConfig | null {
    return loadDiscordConfig(this.env);
  }

  // ---- the login ----

  /**
   * The login: the token `login` stored (sealed with BRIDGE_SECRET_KEY) with its kind, else the configured bot token.
   * A stored token that cannot be opened (the key changed) counts as none: `login` again stores a new one.
   */
  async login(): Promise<DiscordLogin | null> {
    if (this.loginCache !== undefined) return this.loginCache;
    const sealed = this.store.get("token_sealed");
    const configuredToken = this.config()?.botToken;
    const configured: DiscordLogin | null = configuredToken === undefined ? null : { token: configuredToken, kind: "bot" };
    // Stored before user logins existed: a bot's.
    const kind: LoginKind = this.store.get("token_kind") === "user" ? "user" : "bot";
    this.loginCache =
      sealed === null
        ? configured
        : await openToken(this.env, sealed).then(
            (token): DiscordLogin => ({ token, kind }),
            (err: unknown) => {
              console.error(`discord: the stored ${kind} token cannot be used: ${(err as Error).message}`);
              return configured;
            },
          );
    return this.loginCache;
  }

  async rest(): Promise<DiscordRest | null> {
    const login = await this.login();
    return login === null ? null : this.restWithToken(login.token, login.kind);
  }

  restWithToken(token: string, kind: LoginKind): DiscordRest {
    return new DiscordRest({ baseUrl: this.config()?.apiBaseUrl ?? "", token, kind });
  }

  allowsUserTokens(): boolean {
    return this.config()?.allowUserToken === true;
  }

  async saveLogin(token: string, kind: LoginKind, user: ApiUser): Promise<void> {
    const sealed = await sealToken(this.env, token);
    const recovering = this.store.get("fatal_error") !== null;
    this.ctx.storage.transactionSync(() => {
      this.store.set("token_sealed", sealed);
      this.store.set("token_kind", kind);
      // A bot's identify budget does not apply to the next login (a user's has none to read).
      this.store.set("identify_remaining", null);
      this.store.set("bot_user_id", user.id);
      this.store.set("fatal_error", null);
      this.store.set("fatal_token", null);
      if (recovering) this.store.set("announce_recovery", "1");
      this.forgetSession();
    });
    this.loginCache = { token, kind };
    this.disconnect();
    await this.ensureConnected();
  }

  async logout(): Promise<boolean> {
    const had = this.store.get("token_sealed") !== null;
    this.ctx.storage.transactionSync(() => {
      this.store.set("token_sealed", null);
      this.store.set("token_kind", null);
      this.store.set("identify_remaining", null);
      this.forgetSession();
    });
    this.loginCache = undefined;
    this.disconnect();
    if ((await this.login()) === null) await this.ctx.storage.deleteAlarm();
    else await this.ensureConnected();
    return had;
  }

  // ---- webhooks: the person's messages in guild channels ----

  /** The channel's webhook (its token opened), "none" when recently found unusable, null when never looked up. */
  async webhook(channelId: string): Promise<ChannelWebhook | "none" | null> {
    // A webhook's token lets anyone post in the channel: without BRIDGE_SECRET_KEY to seal it, the bot posts.
    if (!canSealTokens(this.env)) return "none";
    const row = this.sql
      .exec<{ webhook_id: string | null; token_sealed: string | null; guild_id: string | null; checked_at: number }>(
        "SELECT webhook_id, token_sealed, guild_id, checked_at FROM webhooks WHERE channel_id = ?",
        channelId,
      )
      .toArray()[0];
    if (row === undefined) return null;
    if (row.webhook_id === null || row.token_sealed === null || row.guild_id === null) return Date.now() - row.checked_at < NO_WEBHOOK_RECHECK_MS ? "none" : null;
    return { id: row.webhook_id, token: await openToken(this.env, row.token_sealed), guildId: row.guild_id };
  }

  /** Who posts for the bridge, so the echoes of its posts are dropped: its webhooks, and a bot login's bot user. */
  async ownAuthors(): Promise<OwnAuthors> {
    const botUserId = (await this.login())?.kind === "bot" ? this.store.get("bot_user_id") : null;
    const hooks = this.sql.exec<{ webhook_id: string }>("SELECT webhook_id FROM webhooks WHERE webhook_id IS NOT NULL").toArray();
    return { botUserId, webhookIds: hooks.map((h) => h.webhook_id) };
  }

  /** Stores a channel's webhook, its token sealed like the bot token (it lets anyone post in the channel). */
  async saveWebhook(channelId: string, hook: ChannelWebhook | null): Promise<void> {
    const sealed = hook === null ? null : await sealToken(this.env, hook.token);
    this.sql.exec(
      `INSERT INTO webhooks (channel_id, webhook_id, token_sealed, guild_id, checked_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (channel_id) DO UPDATE SET webhook_id = excluded.webhook_id, token_sealed = excluded.token_sealed,
         guild_id = excluded.guild_id, checked_at = excluded.checked_at`,
      channelId,
      hook?.id ?? null,
      sealed,
      hook?.guildId ?? null,
      Date.now(),
    );
  }

  /**
   * The person as a webhook shows them: their display name in the room (m.room.member, read as the bot), and their
   * avatar at a public URL the bridge serves (the homeserver's own media is authenticated).
   */
  async webhookSender(roomId: string, userId: string): Promise<WebhookSender> {
    const config = this.config();
    if (!config) return {};
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`;
    const url = new URL(path, this.env.PUBLIC_BASEURL);
    url.searchParams.set("user_id", `@${config.identity.botLocalpart}:${config.identity.serverName}`);
    const res = await homeserverFetch(this.ctx)(new Request(url, { headers: { authorization: `Bearer ${config.identity.asToken}` } }));
    const member = MemberContent.safeParse(res.ok ? await res.json() : null);
    if (!member.success) return {};
    const avatarUrl = await publicAvatarUrl(this.env, member.data.avatar_url ?? undefined);
    return { ...(member.data.displayname ? { displayName: member.data.displayname } : {}), ...(avatarUrl !== undefined ? { avatarUrl } : {}) };
  }

  // ---- management rooms ----

  /** Management rooms: rooms the owner invited the bot to, where it answers commands. */
  addManagementRoom(roomId: string): void {
    this.sql.exec("INSERT INTO management_rooms (room_id) VALUES (?) ON CONFLICT DO NOTHING", roomId);
  }

  isManagementRoom(roomId: string): boolean {
    return this.sql.exec("SELECT 1 FROM management_rooms WHERE room_id = ?", roomId).toArray().length > 0;
  }

  /** One command from a management room: the bot's answer. */
  runCommand(text: string): Promise<string> {
    return runDiscordCommand(text, this).catch((err: unknown) => `That failed: ${(err as Error).message}`);
  }

  /** A notice from the bot in every management room (a broken or recovered login). */
  private async notify(body: string): Promise<void> {
    const config = this.config();
    if (!config) return;
    const { identity } = config;
    const bot = `@${identity.botLocalpart}:${identity.serverName}`;
    const intent = new MatrixIntent(homeserverFetch(this.ctx), this.env.PUBLIC_BASEURL, identity.asToken);
    const rooms = this.sql.exec<{ room_id: string }>("SELECT room_id FROM management_rooms").toArray();
    const txn = `notice.${Date.now()}`;
    for (const { room_id: roomId } of rooms) {
      await intent.sendMessage(bot, roomId, { msgtype: "m.notice", body }, Date.now(), txn).catch((err: unknown) => console.warn(`discord notice: ${(err as Error).message}`));
    }
  }

  // ---- portals ----

  /** The portal a Matrix room belongs to, or null. */
  portalOfRoom(roomId: string): string | null {
    return this.sql.exec<{ portal_key: string }>("SELECT portal_key FROM portal_rooms WHERE room_id = ?", roomId).toArray()[0]?.portal_key ?? null;
  }

  bridgedChannelIds(): Promise<string[]> {
    return Promise.resolve(this.sql.exec<{ channel_id: string }>("SELECT channel_id FROM bridged_channels ORDER BY rowid").toArray().map((r) => r.channel_id));
  }

  private isBridged(channelId: string): boolean {
    return this.sql.exec("SELECT 1 FROM bridged_channels WHERE channel_id = ?", channelId).toArray().length > 0;
  }

  async bridge(channels: ApiChannel[]): Promise<number> {
    let added = 0;
    for (const channel of channels) {
      this.learnChannel(channel);
      if (this.isBridged(channel.id)) continue;
      this.sql.exec("INSERT INTO bridged_channels (channel_id) VALUES (?)", channel.id);
      added++;
      // In the dispatch order, so the channel's live messages wait for its room and history.
      await this.inDispatchOrder(async () => {
        const key = portalKey(channel.id);
        this.rememberPortal(await portalStub(this.env, DISCORD_NETWORK_ID, key).ensurePortal(DISCORD_NETWORK_ID, key), key);
      });
    }
    return added;
  }

  async sync(): Promise<number> {
    let updated = 0;
    for (const id of await this.bridgedChannelIds()) if (await this.syncChat(portalKey(id))) updated++;
    return updated;
  }

  /** Re-reads a portal's chat info (name, topic, icon) into its room. */
  private syncChat(key: PortalKey): Promise<boolean> {
    return portalStub(this.env, DISCORD_NETWORK_ID, key).syncChatInfo(DISCORD_NETWORK_ID);
  }

  async unbridge(channelId: string): Promise<boolean> {
    const had = this.isBridged(channelId);
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM bridged_channels WHERE channel_id = ?", channelId);
      this.sql.exec("DELETE FROM portal_rooms WHERE portal_key = ?", channelId);
    });
    return had;
  }

  /** Gap fill: up to `limit` messages after the portal's newest bridged one (nothing before its room exists). */
  private async fill(key: PortalKey, limit: number): Promise<void> {
    // One channel's failure (e.g. a forum, which has no messages of its own) does not stop the others'.
    await portalStub(this.env, DISCORD_NETWORK_ID, key)
      .backfill(DISCORD_NETWORK_ID, limit)
      .catch((err: unknown) => console.warn(`discord gap fill of ${key}: ${(err as Error).message}`));
  }

  private rememberPortal(roomId: string, key: PortalKey): void {
    this.sql.exec("INSERT INTO portal_rooms (room_id, portal_key) VALUES (?, ?) ON CONFLICT DO NOTHING", roomId, key);
  }

  /** Runs `work` after every dispatch received so far, and before any received later. */
  private inDispatchOrder(work: () => Promise<void>): Promise<void> {
    const run = this.dispatchTail.then(work);
    this.dispatchTail = run.catch((err: unknown) => console.error(`discord gateway: ${(err as Error).message}`));
    this.ctx.waitUntil(this.dispatchTail);
    return run;
  }

  // ---- channels the gateway told about ----

  learnChannel(channel: z.infer<typeof Channel> | ApiChannel): void {
    this.sql.exec(
      `INSERT INTO channels (id, type, parent_id, name, guild_id, archived) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET type = excluded.type, parent_id = excluded.parent_id, name = excluded.name, guild_id = excluded.guild_id,
         archived = excluded.archived`,
      channel.id,
      channel.type,
      channel.parent_id ?? null,
      channel.name ?? null,
      channel.guild_id ?? null,
      channel.thread_metadata?.archived === true ? 1 : 0,
    );
  }

  private learnGuild(guild: z.infer<typeof GuildCreate>): void {
    for (const channel of [...guild.channels, ...guild.threads]) this.learnChannel({ ...channel, guild_id: guild.id });
    for (const role of guild.roles) this.sql.exec("INSERT INTO roles (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name", role.id, role.name);
  }

  /**
   * What READY tells beyond the session: a user login's whole guilds (learnt as GUILD_CREATE's are) and its DMs and
   * group DMs (learnt, so their messages route to direct portals); a bot's unavailable guilds do not parse as
   * guilds and wait for their GUILD_CREATE. An item that does not parse is skipped, not the READY.
   */
  private learnReady(data: unknown): void {
    const state = ReadyState.safeParse(data);
    if (!state.success) return;
    for (const raw of state.data.guilds) {
      const guild = GuildCreate.safeParse(raw);
      if (guild.success) this.learnGuild(guild.data);
    }
    for (const raw of state.data.private_channels) {
      const channel = Channel.safeParse(raw);
      if (channel.success) this.learnChannel(channel.data);
    }
  }

  /**
   * Channel and role names for mentions in messages read from the history (the network API asks), and the images of
   * their custom emoji (uploaded first when new).
   */
  async names(
    channelIds: string[],
    roleIds: string[],
    emojis: CustomEmoji[],
  ): Promise<{ channels: Record<string, string>; roles: Record<string, string>; emojis: Record<string, string> }> {
    await this.ensureEmojis(emojis);
    const channels: Record<string, string> = {};
    const roles: Record<string, string> = {};
    const images: Record<string, string> = {};
    for (const id of channelIds) {
      const name = this.knownChannel(id)?.name;
      if (name) channels[id] = name;
    }
    for (const id of roleIds) {
      const name = this.roleName(id);
      if (name !== undefined) roles[id] = name;
    }
    for (const { id } of emojis) {
      const mxc = this.emojiMxc(id);
      if (mxc !== undefined) images[id] = mxc;
    }
    return { channels, roles, emojis: images };
  }

  private emojiMxc(id: string): string | undefined {
    return this.sql.exec<{ mxc: string }>("SELECT mxc FROM emojis WHERE id = ?", id).toArray()[0]?.mxc;
  }

  /**
   * Custom emoji images from the CDN into the media repository (as the bot), once per emoji; one that cannot be
   * fetched stays `:name:` text (logged) and is tried again the next time it is used.
   */
  private async ensureEmojis(emojis: CustomEmoji[]): Promise<void> {
    const config = this.config();
    if (!config) return;
    const { identity } = config;
    const intent = new MatrixIntent(homeserverFetch(this.ctx), this.env.PUBLIC_BASEURL, identity.asToken);
    for (const { id, name, animated } of emojis) {
      if (this.emojiMxc(id) !== undefined) {
        // Its name as last seen (renamed, or stored before names were): a reaction from Matrix names it.
        this.sql.exec("UPDATE emojis SET name = ? WHERE id = ? AND name IS NOT ?", name, id, name);
        continue;
      }
      const filename = `${id}.${animated ? "gif" : "png"}`;
      try {
        const res = await fetch(`${config.cdnBaseUrl}/emojis/${filename}`);
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`the CDN answered ${res.status}`);
        }
        const type = res.headers.get("content-type") ?? (animated ? "image/gif" : "image/png");
        const mxc = await intent.upload(`@${identity.botLocalpart}:${identity.serverName}`, await readCapped(res, MAX_EMOJI_BYTES), type, filename);
        this.sql.exec("INSERT INTO emojis (id, mxc, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", id, mxc, name);
      } catch (err) {
        console.warn(`discord emoji ${id} not uploaded: ${(err as Error).message}`);
      }
    }
  }

  /** A channel's known threads that are not archived, oldest first. */
  activeThreads(channelId: string): Promise<string[]> {
    const threads = this.sql.exec<{ id: string; type: number }>("SELECT id, type FROM channels WHERE parent_id = ? AND archived = 0", channelId).toArray();
    return Promise.resolve(threads.filter((t) => THREAD_CHANNEL_TYPES.has(t.type)).map((t) => t.id));
  }

  /** The custom emoji whose uploaded image is `mxc` (a reaction key from Matrix), or null when it is none of ours. */
  customEmojiOfMxc(mxc: string): Promise<{ id: string; name: string | null } | null> {
    return Promise.resolve(this.sql.exec<{ id: string; name: string | null }>("SELECT id, name FROM emojis WHERE mxc = ?", mxc).toArray()[0] ?? null);
  }

  /** The portals of a guild's bridged channels (known from GUILD_CREATE, CHANNEL_CREATE, REST). */
  private guildPortals(guildId: string): PortalKey[] {
    return this.sql
      .exec<{ id: string }>("SELECT c.id FROM channels c JOIN bridged_channels b ON b.channel_id = c.id WHERE c.guild_id = ? ORDER BY b.rowid", guildId)
      .toArray()
      .map((r) => portalKey(r.id));
  }

  private roleName(id: string): string | undefined {
    return this.sql.exec<{ name: string }>("SELECT name FROM roles WHERE id = ?", id).toArray()[0]?.name;
  }

  private knownChannel(id: string): { type: number; parent_id: string | null; name: string | null } | undefined {
    return this.sql.exec<{ type: number; parent_id: string | null; name: string | null }>("SELECT type, parent_id, name FROM channels WHERE id = ?", id).toArray()[0];
  }

  /** Where a channel's events go: a bridged channel's portal, a thread's parent's, a DM's own; else null. */
  private async route(channelId: string): Promise<ChannelRoute | null> {
    let channel = this.knownChannel(channelId);
    if (channel === undefined) {
      const rest = await this.rest();
      if (rest === null) return null;
      this.learnChannel(await rest.channel(channelId));
      channel = this.knownChannel(channelId);
      if (channel === undefined) return null;
    }
    if (THREAD_CHANNEL_TYPES.has(channel.type) && channel.parent_id !== null) {
      return this.isBridged(channel.parent_id) ? { portalKey: portalKey(channel.parent_id), threadId: channelId } : null;
    }
    if (DM_CHANNEL_TYPES.has(channel.type) && !this.isBridged(channelId)) this.sql.exec("INSERT INTO bridged_channels (channel_id) VALUES (?)", channelId);
    return this.isBridged(channelId) ? channelRoute(channelId) : null;
  }

  // ---- the connection ----

  /** Connects unless connected, logged out, stopped by a fatal close, or waiting (backoff, identify budget). */
  async ensureConnected(): Promise<GatewayStatus> {
    if (this.config() !== null && (await this.login()) !== null && (await this.stoppedBy()) === null) {
      // The alarm first: a failed connect is retried by it.
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
      // Waiting (a backoff, the identify budget): the alarm comes back then. The alarm set for that very time may see
      // a clock a little behind it (the runtime's clock stands still between I/O): that counts as due, since setting
      // the alarm to the time of the one running would be taken as the same alarm, and dropped when it ends.
      const waitUntil = Number(this.store.get("connect_after") ?? "0") - CLOCK_SKEW_MS;
      if (this.socket === null && Date.now() < waitUntil) await this.ctx.storage.setAlarm(waitUntil + CLOCK_SKEW_MS);
      else if (this.socket === null) {
        this.connecting ??= this.openSocket().finally(() => (this.connecting = null));
        await this.connecting;
      }
    }
    return this.status();
  }

  async status(): Promise<GatewayStatus> {
    const login = await this.login();
    const seq = this.store.get("sequence");
    const remaining = this.store.get("identify_remaining");
    return {
      enabled: this.config() !== null,
      loggedIn: login !== null,
      loginKind: login?.kind ?? null,
      connected: this.socket !== null,
      ready: this.ready,
      sessionId: this.store.get("session_id"),
      sequence: seq === null ? null : Number(seq),
      botUserId: this.store.get("bot_user_id"),
      identifies: this.count("identifies"),
      resumes: this.count("resumes"),
      invalidSessions: this.count("invalid_sessions"),
      identifyRemaining: remaining === null ? null : Number(remaining),
      fatalError: this.store.get("fatal_error"),
    };
  }

  /**
   * The heartbeat and the watchdog: while connected, a heartbeat every HELLO interval (an unacknowledged one means a
   * zombie connection: reconnect); while not (a drop, an evicted object, a backoff ending), reconnect and resume.
   */
  override async alarm(): Promise<void> {
    if (this.socket !== null && this.heartbeatMs !== null) {
      this.beat();
      if (this.socket !== null) {
        await this.ctx.storage.setAlarm(Date.now() + this.heartbeatMs);
        return;
      }
    }
    try {
      await this.ensureConnected();
    } catch (err) {
      console.warn(`discord gateway: reconnect failed: ${(err as Error).message}`);
      if (this.store.get("fatal_error") !== null) return;
      await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
      await this.noteOutage(err as Error);
    }
  }

  /** A failed reconnect: after LONG_OUTAGE_MS of them, the management rooms hear it, once (and again on recovery). */
  private async noteOutage(err: Error): Promise<void> {
    const since = Number(this.store.get("outage_since") ?? Date.now());
    this.store.set("outage_since", String(since));
    if (Date.now() - since < LONG_OUTAGE_MS || this.store.get("announce_recovery") !== null) return;
    this.store.set("announce_recovery", "1");
    await this.notify(`The bridge has not reached Discord for ${Math.round((Date.now() - since) / 60_000)} minutes (${err.message}); it keeps trying.`);
  }

  /** Connected again (READY or RESUMED): a notice if the management rooms were told it was broken. */
  private async connectedAgain(): Promise<void> {
    this.store.set("outage_since", null);
    if (this.store.get("announce_recovery") === null) return;
    this.store.set("announce_recovery", null);
    const kind = (await this.login())?.kind === "user" ? "user" : "bot user";
    await this.notify(`Connected to Discord again as ${kind} ${this.store.get("bot_user_id") ?? "?"}.`);
  }

  /** The fatal close that stopped the gateway, while the token is still the one it was for: a new token retries. */
  private async stoppedBy(): Promise<string | null> {
    const error = this.store.get("fatal_error");
    if (error === null) return null;
    const login = await this.login();
    if (login !== null && this.store.get("fatal_token") === (await tokenFingerprint(login.token))) return error;
    this.store.set("fatal_error", null);
    this.store.set("fatal_token", null);
    return null;
  }

  /** Stops for good (until a new token): the token was refused, by a fatal close code or a 401 from REST. */
  private async stopFatally(error: string): Promise<void> {
    const login = await this.login();
    if (login === null || this.store.get("fatal_error") !== null) return;
    this.store.set("fatal_token", await tokenFingerprint(login.token));
    this.store.set("fatal_error", error);
    await this.ctx.storage.deleteAlarm();
    console.error(`discord gateway: ${error}; not reconnecting`);
    const again = login.kind === "user" ? "login user <token>" : "login <bot token>";
    await this.notify(`The Discord login stopped working: ${error}. The bridge is not reconnecting; say "${again}" with a valid token.`);
  }

  private async openSocket(): Promise<void> {
    const config = this.config();
    const rest = await this.rest();
    if (!config || rest === null) return;
    const resumeUrl = this.store.get("resume_url");
    let base: string;
    if (this.store.get("session_id") !== null && resumeUrl !== null) base = resumeUrl;
    else {
      // A user login has no session_start_limit (GET /gateway): no daily budget is known, and none is kept here;
      // IDENTIFYs stay rare anyway: a dropped connection RESUMEs, an invalid session backs off (1-5 s, doubled to a
      // minute), and a refused token stops the bridge.
      const gateway = await rest.gateway().catch(async (err: unknown) => {
        // A revoked token may show here first, while disconnected.
        if (err instanceof DiscordApiError && err.status === 401) await this.stopFatally("Discord refused the token (401: revoked or wrong)");
        throw err;
      });
      if (gateway.session_start_limit) {
        const { remaining, reset_after: resetAfter } = gateway.session_start_limit;
        this.store.set("identify_remaining", String(remaining));
        if (remaining <= 0) {
          // The day's IDENTIFYs are spent: wait for the budget to reset instead of being refused.
          console.warn(`discord gateway: no IDENTIFY left today; waiting ${resetAfter} ms`);
          this.store.set("connect_after", String(Date.now() + resetAfter));
          await this.ctx.storage.setAlarm(Date.now() + resetAfter);
          return;
        }
      }
      base = gateway.url;
    }
    const url = new URL(base);
    url.searchParams.set("v", "10");
    url.searchParams.set("encoding", "json");
    // The runtime opens WebSockets with a fetch upgrade, which takes http(s) URLs.
    url.protocol = url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : url.protocol;
    const res = await fetch(url.toString(), { headers: { Upgrade: "websocket" } });
    const socket = res.webSocket;
    if (!socket) throw new Error(`Discord gateway ${url.host} answered ${res.status} without a WebSocket`);
    socket.accept();
    console.log(`discord gateway: connected to ${url.host}`);
    this.socket = socket;
    this.ready = false;
    this.acked = true;
    this.heartbeatMs = null;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) void this.onFrame(typeof event.data === "string" ? event.data : "");
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) void this.onClosed(event.code);
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) void this.onClosed(1006);
    });
  }

  private send(payload: { op: GatewayOpcodes; d: unknown }): void {
    this.socket?.send(JSON.stringify(payload));
  }

  private async onFrame(text: string): Promise<void> {
    let frame: GatewayFrame;
    try {
      frame = GatewayFrame.parse(JSON.parse(text));
    } catch (err) {
      console.warn(`discord gateway: unreadable frame (${(err as Error).message}): ${text.slice(0, 200)}`);
      return;
    }
    if (typeof frame.s === "number") this.receivedSeq = frame.s;
    switch (frame.op) {
      case GatewayOpcodes.Hello:
        return this.onHello(Hello.parse(frame.d).heartbeat_interval);
      case GatewayOpcodes.HeartbeatAck:
        this.acked = true;
        return;
      case GatewayOpcodes.Heartbeat:
        return this.beat();
      case GatewayOpcodes.Reconnect:
        return this.reconnect(RECONNECT_SOON_MS);
      case GatewayOpcodes.InvalidSession:
        return frame.d === true ? this.reconnect(RECONNECT_SOON_MS) : this.invalidSession();
      case GatewayOpcodes.Dispatch:
        return this.onDispatch(frame.t ?? "", frame.d, frame.s ?? null);
    }
  }

  private async onHello(intervalMs: number): Promise<void> {
    const login = await this.login();
    if (login === null) return;
    const { token } = login;
    this.heartbeatMs = intervalMs;
    // The first heartbeat after interval * jitter (Discord's advice), then every interval: all from the alarm.
    await this.ctx.storage.setAlarm(Date.now() + Math.floor(intervalMs * Math.random()));
    const sessionId = this.store.get("session_id");
    const stored = this.store.get("sequence");
    // This object's queue still holds what it received (it handles it after the RESUME); a new object has only storage.
    const seq = this.receivedSeq ?? (stored === null ? null : Number(stored));
    if (sessionId !== null && seq !== null) {
      this.store.set("resumes", String(this.count("resumes") + 1));
      this.send({ op: GatewayOpcodes.Resume, d: { token, session_id: sessionId, seq } });
    } else {
      this.store.set("identifies", String(this.count("identifies") + 1));
      const remaining = this.store.get("identify_remaining");
      if (remaining !== null) this.store.set("identify_remaining", String(Number(remaining) - 1));
      this.send({
        op: GatewayOpcodes.Identify,
        d: identifyData(login, this.config()?.guildMembersIntent === true ? INTENTS | GatewayIntentBits.GuildMembers : INTENTS),
      });
    }
  }

  /** A heartbeat; if the last one was never acknowledged the connection is a zombie: resume on a new one. */
  private beat(): void {
    if (!this.acked) {
      void this.reconnect(RECONNECT_SOON_MS);
      return;
    }
    this.acked = false;
    this.send({ op: GatewayOpcodes.Heartbeat, d: this.receivedSeq });
  }

  private async onDispatch(eventName: string, data: unknown, seq: number | null): Promise<void> {
    if (eventName === "READY") {
      const ready = Ready.parse(data);
      this.ctx.storage.transactionSync(() => {
        this.store.set("session_id", ready.session_id);
        this.store.set("sequence", seq === null ? null : String(seq));
        this.store.set("gap_fill_pending", "1");
        this.store.set("resume_url", ready.resume_gateway_url);
        this.store.set("bot_user_id", ready.user.id);
        this.store.set("invalid_sessions", null);
        this.store.set("connect_after", null);
      });
      this.learnReady(data);
      this.ready = true;
      console.log("discord gateway: ready");
      this.gapFill();
      await this.connectedAgain();
      return;
    }
    if (eventName === "RESUMED") {
      console.log("discord gateway: resumed");
      this.ready = true;
      // A gap fill that an eviction interrupted.
      if (this.store.get("gap_fill_pending") !== null) this.gapFill();
      await this.connectedAgain();
      return;
    }
    // One at a time, in the order Discord sent them; the sequence is stored once handled (for this session only).
    const session = this.store.get("session_id");
    void this.inDispatchOrder(async () => {
      await dispatch(this.dispatchContext(), eventName, data).catch((err: unknown) => console.error(`discord ${eventName}: ${(err as Error).message}`));
      if (seq !== null && this.store.get("session_id") === session) this.store.set("sequence", String(seq));
    });
  }

  /**
   * After a new session: whatever was sent while there was none is fetched from each bridged channel's history,
   * before any live event of the new session (they queue behind it).
   */
  private gapFill(): void {
    void this.inDispatchOrder(async () => {
      for (const id of await this.bridgedChannelIds()) await this.fill(portalKey(id), GAP_FILL_LIMIT);
      this.store.set("gap_fill_pending", null);
    });
  }

  private d2mContext(): D2mContext {
    const config = this.config();
    const serverName = config?.identity.serverName ?? "";
    return {
      ghostUserId: (id) => `@${ghostLocalpart(remoteUserId(id))}:${serverName}`,
      cdnBaseUrl: config?.cdnBaseUrl ?? "",
      channelName: (id) => this.knownChannel(id)?.name ?? undefined,
      roleName: (id) => this.roleName(id),
      emojiMxc: (id) => this.emojiMxc(id),
    };
  }

  private dispatchContext(): DispatchContext {
    return {
      convert: this.d2mContext(),
      route: (channelId) => this.route(channelId),
      toPortal: (event) => portalStub(this.env, DISCORD_NETWORK_ID, event.portalKey).handleRemoteEvent(DISCORD_NETWORK_ID, event),
      toPortalChange: (change) => portalStub(this.env, DISCORD_NETWORK_ID, change.portalKey).handleRemoteChange(DISCORD_NETWORK_ID, change),
      botUserId: () => this.store.get("bot_user_id"),
      ownAuthors: () => this.ownAuthors(),
      now: () => Date.now(),
      rememberPortal: (roomId, key) => this.rememberPortal(roomId, key),
      learnGuild: (guild) => this.learnGuild(guild),
      learnChannel: (channel) => this.learnChannel(channel),
      syncChat: async (key) => void (await this.syncChat(key)),
      ensureEmojis: (emojis) => this.ensureEmojis(emojis),
      guildPortals: (guildId) => this.guildPortals(guildId),
      pinnedMessageIds: async (channelId) => {
        const rest = await this.rest();
        return rest === null ? [] : rest.pinnedMessageIds(channelId);
      },
    };
  }

  private forgetSession(): void {
    this.receivedSeq = null;
    this.store.set("session_id", null);
    this.store.set("sequence", null);
    this.store.set("resume_url", null);
  }

  /** Op 9 without resume: a new session (IDENTIFY) after 1-5 s, doubled for each invalid session in a row. */
  private async invalidSession(): Promise<void> {
    const streak = this.count("invalid_sessions") + 1;
    const delay = Math.min(INVALID_SESSION_MAX_MS, (INVALID_SESSION_MIN_MS + Math.random() * INVALID_SESSION_JITTER_MS) * 2 ** (streak - 1));
    this.ctx.storage.transactionSync(() => {
      this.forgetSession();
      this.store.set("invalid_sessions", String(streak));
      this.store.set("connect_after", String(Date.now() + delay));
    });
    console.log(`discord gateway: invalid session; identifying again in ${Math.round(delay)} ms`);
    await this.reconnect(delay);
  }

  /** Closes this connection and opens the next one after `delayMs` (resuming when the session allows it). */
  private async reconnect(delayMs: number): Promise<void> {
    // A close code other than 1000/1001, so Discord keeps the session for a RESUME.
    this.disconnect(4000);
    await this.ctx.storage.setAlarm(Date.now() + delayMs);
  }

  private disconnect(code = 1000): void {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    this.heartbeatMs = null;
    socket?.close(code, code === 1000 ? "logging out" : "reconnecting");
  }

  private async onClosed(code: number): Promise<void> {
    console.log(`discord gateway: closed (${code})`);
    this.socket = null;
    this.ready = false;
    this.heartbeatMs = null;
    if (FATAL_CLOSE_CODES.has(code)) {
      const why = code === GatewayCloseCodes.AuthenticationFailed ? " (authentication failed: the token was revoked or is wrong)" : "";
      return this.stopFatally(`Discord closed the gateway with code ${code}${why}`);
    }
    await this.ctx.storage.setAlarm(Date.now() + RECONNECT_SOON_MS);
  }
}

/** A SHA-256 of the bot token: enough to notice it changed, without storing the token. */
async function tokenFingerprint(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bridge's one gateway object. */
export function discordGateway(env: Env) {
  return env.DISCORD_GATEWAY.get(env.DISCORD_GATEWAY.idFromName("bot"));
}
