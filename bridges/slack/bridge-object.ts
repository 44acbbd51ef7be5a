import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { readCapped } from "../core/download";
import { type PortalKey, portalKey, remoteUserId } from "../core/ids";
import { homeserverFetch } from "../core/matrix/homeserver";
import { MatrixIntent } from "../core/matrix/intent";
import { portalStub } from "../core/portals";
import { MetaTable, ensureSchema } from "../../homeserver/src/util/durable-sqlite";
import { SLACK_NETWORK_ID, type SlackConfig, ghostLocalpart, loadSlackConfig } from "./config";
import { EventCallback, SocketFrame, type SlackUser, slackAvatarUrl, slackDisplayName } from "./payloads";
import { type SlackDispatchContext, type SlackProfile, dispatch } from "./s2m/dispatcher";
import { SlackNetworkApi } from "./network-api";
import { slackPortalKey } from "./s2m/convert-message";
import { type SlackBotIdentity, type SlackInstall, SlackTokenStore, type SlackTokens, TOKEN_TABLES, tokenFingerprint } from "./tokens";
import { SlackApiError, SlackWebApi } from "./web-api";

const SCHEMA_VERSION = 3;
/**
 * How long a delivered event id is remembered. Slack retries a delivery it saw no 200 for three times, within
 * about five minutes (immediately, after 1 minute, after 5 minutes); an hour covers that with room to spare.
 */
export const SEEN_EVENT_TTL_MS = 60 * 60 * 1000;
/** How long a user's name and avatar from users.info are trusted before they are looked up again. */
export const USER_PROFILE_TTL_MS = 60 * 60 * 1000;
/** An inbox entry that keeps failing is given up after this many attempts (backing off 1, 2, 4, 8 s). */
const MAX_ATTEMPTS = 5;
/** Socket Mode: the watchdog while connected, and the longest wait between reconnect attempts. */
const WATCHDOG_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
/** How long a workspace's emoji.list is trusted before it is asked again. */
const EMOJI_LIST_TTL_MS = 60 * 60 * 1000;
/** A custom emoji image larger than this is not uploaded (Slack's own limit is 128 KB). */
const MAX_EMOJI_BYTES = 1024 * 1024;
/** How long an expected reaction echo is waited for. */
const ECHO_TTL_MS = 5 * 60 * 1000;
/** The team of the configured bot token, before auth.test has said which it is. */
const CONFIGURED = "configured";
/** Messages bridged per portal per gap fill call, and how many calls one gap fill makes at most. */
const GAP_FILL_CHUNK = 100;
const GAP_FILL_MAX_CHUNKS = 50;


export interface SlackBridgeStatus {
  /** The bot token's workspace and bot user, once auth.test has answered. */
  bot: SlackBotIdentity | null;
  /** Distinct deliveries accepted (Events API and Socket Mode), and redeliveries (same event_id) dropped. */
  eventsAccepted: number;
  duplicatesDropped: number;
  portals: number;
  /** Workspaces installed through OAuth (their tokens are sealed here). */
  installs: { teamId: string; teamName: string }[];
  /** Deliveries recorded but not yet bridged (the durable inbox), and those given up (malformed, or failing 5 times). */
  pending: number;
  givenUp: number;
  socket: { enabled: boolean; connected: boolean; hellos: number; drops: number; gapFills: number };
}

interface InboxRow {
  seq: number;
  kind: "event" | "gap_fill";
  payload: string;
  attempts: number;
  not_before: number;
}


/**
 * The Slack bridge's own state and its one event pipeline (one object), in SQLite:
 * - the durable inbox: every delivery (Events API route or Socket Mode envelope) is recorded with its
 *   `team_id:event_id` claimed (a retry or duplicate is dropped, ids pruned after a TTL) before it is
 *   acknowledged, then bridged in order from here; a failure is retried from the alarm, so nothing is lost;
 * - the Socket Mode connection (when SLACK_APP_TOKEN is set): apps.connections.open, every envelope acknowledged,
 *   `disconnect` and drops reconnected with backoff from the alarm, and after every reconnect a gap fill of each
 *   portal queued in the inbox, so it runs before the events of the new connection;
 * - the workspaces' tokens: installed through OAuth (sealed with BRIDGE_SECRET_KEY), else the configured ones;
 * - which Matrix room is which conversation's portal, management rooms, users' profiles, expected echoes.
 */
export class SlackBridgeObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;
  private draining: Promise<void> | null = null;
  private socket: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private failures = 0;
  private readonly tokens: SlackTokenStore;
  /** A drain is already asked of the alarm. */
  private drainScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    this.tokens = new SlackTokenStore(ctx.storage, this.store, env, (error) => this.authFailed(CONFIGURED, error));
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS seen_events_by_time ON seen_events (seen_at);
        CREATE TABLE IF NOT EXISTS portal_rooms (room_id TEXT PRIMARY KEY, portal_key TEXT NOT NULL);
        DROP TABLE IF EXISTS user_names;
        CREATE TABLE IF NOT EXISTS slack_users (user_id TEXT PRIMARY KEY, name TEXT NOT NULL, avatar_url TEXT, fetched_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS inbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0, not_before INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS reaction_echoes (echo TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS management_rooms (room_id TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS auth_notices (fingerprint TEXT PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS emoji_lists (team TEXT PRIMARY KEY, list TEXT NOT NULL, fetched_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS emoji_images (source TEXT PRIMARY KEY, mxc TEXT NOT NULL);
      `);
      this.sql.exec(TOKEN_TABLES);
    });
  }

  private bump(counter: string): void {
    this.store.set(counter, String(this.count(counter) + 1));
  }

  private count(counter: string): number {
    return Number(this.store.get(counter) ?? "0");
  }

  /** Sets the alarm to `at` unless it is due earlier already. */
  private async alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  // ---- the durable inbox ----

  /**
   * Records a delivery (an event_callback envelope, as JSON) in the inbox, once per `team_id:event_id`: true the
   * first time, false for a retry or duplicate. It is bridged in the background; the caller acknowledges Slack.
   */
  async accept(deliveryId: string, payload: string, nowMs = Date.now()): Promise<boolean> {
    const accepted = this.record(deliveryId, payload, nowMs);
    if (accepted) {
      await this.alarmBy(nowMs + WATCHDOG_MS);
      this.kick();
    }
    return accepted;
  }

  /** Claim and enqueue in one transaction: a delivery is either new and queued, or a duplicate. */
  private record(deliveryId: string, payload: string, nowMs: number): boolean {
    return this.ctx.storage.transactionSync(() => {
      const inserted = this.sql.exec("INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING", deliveryId, nowMs).rowsWritten > 0;
      this.bump(inserted ? "events_accepted" : "duplicates_dropped");
      if (inserted) this.sql.exec("INSERT INTO inbox (kind, payload) VALUES ('event', ?)", payload);
      return inserted;
    });
  }

  /** Starts bridging the inbox unless it is running; the alarm restarts it if this object is evicted meanwhile. */
  private kick(): void {
    this.draining ??= this.drain().finally(() => (this.draining = null));
    this.ctx.waitUntil(this.draining);
  }

  /** Bridges the inbox oldest first; a failing entry is retried (in place, so order holds) with backoff. */
  private async drain(): Promise<void> {
    for (;;) {
      const row = this.sql.exec<{ seq: number; kind: string; payload: string; attempts: number; not_before: number }>("SELECT * FROM inbox ORDER BY seq LIMIT 1").toArray()[0] as
        | InboxRow
        | undefined;
      if (row === undefined) return;
      if (row.not_before > Date.now()) return void (await this.alarmBy(row.not_before));
      try {
        await this.process(row);
        this.sql.exec("DELETE FROM inbox WHERE seq = ?", row.seq);
      } catch (err) {
        const attempts = row.attempts + 1;
        console.error(`slack inbox #${row.seq} (${row.kind}), attempt ${attempts}: ${(err as Error).message}`);
        // A malformed event fails the same way every time: given up at once, not after the backoff.
        if (err instanceof z.ZodError || attempts >= MAX_ATTEMPTS) {
          this.sql.exec("DELETE FROM inbox WHERE seq = ?", row.seq);
          this.bump("events_given_up");
          continue;
        }
        const notBefore = Date.now() + 1000 * 2 ** (attempts - 1);
        this.sql.exec("UPDATE inbox SET attempts = ?, not_before = ? WHERE seq = ?", attempts, notBefore, row.seq);
        await this.alarmBy(notBefore);
        return;
      }
    }
  }

  private async process(row: InboxRow): Promise<void> {
    const config = loadSlackConfig(this.env);
    if (!config) return;
    if (row.kind === "gap_fill") return this.gapFill();
    await dispatch(this.dispatchContext(config), EventCallback.parse(JSON.parse(row.payload)));
  }

  /** Every portal's messages missed while no events came (oldest first, after its newest bridged message). */
  private async gapFill(): Promise<void> {
    const keys = this.sql.exec<{ portal_key: string }>("SELECT DISTINCT portal_key FROM portal_rooms").toArray();
    for (const { portal_key: key } of keys) {
      const portal = portalStub(this.env, SLACK_NETWORK_ID, portalKey(key));
      // In chunks, each after the newest bridged so far: a failure midway keeps what was done, and is retried.
      for (let chunk = 0; chunk < GAP_FILL_MAX_CHUNKS; chunk++) {
        if ((await portal.backfill(SLACK_NETWORK_ID, GAP_FILL_CHUNK)).sent === 0) break;
      }
    }
    this.bump("gap_fills");
  }

  /** From a socket's handler: the inbox is bridged from the alarm (an event of its own), asked for once. */
  private drainSoon(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    void this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm(): Promise<void> {
    this.drainScheduled = false;
    const now = Date.now();
    this.sql.exec("DELETE FROM seen_events WHERE seen_at < ?", now - SEEN_EVENT_TTL_MS);
    this.sql.exec("DELETE FROM reaction_echoes WHERE expires_at < ?", now);
    this.sql.exec("DELETE FROM emoji_lists WHERE fetched_at < ?", now - EMOJI_LIST_TTL_MS);
    const oldest = this.sql.exec<{ seen_at: number }>("SELECT seen_at FROM seen_events ORDER BY seen_at LIMIT 1").toArray()[0];
    if (oldest) await this.alarmBy(oldest.seen_at + SEEN_EVENT_TTL_MS);
    const config = loadSlackConfig(this.env);
    if (config?.appToken !== undefined) {
      await this.alarmBy(now + WATCHDOG_MS);
      await this.ensureConnected().catch((err: unknown) => console.warn(`slack socket mode: ${(err as Error).message}`));
    }
    this.kick();
    await this.draining;
  }

  // ---- Socket Mode ----

  /** Opens the Socket Mode connection unless it is open (or Socket Mode is off); keeps the watchdog set. */
  async ensureConnected(): Promise<void> {
    const config = loadSlackConfig(this.env);
    if (config?.appToken === undefined) return;
    await this.alarmBy(Date.now() + WATCHDOG_MS);
    if (this.socket !== null) return;
    this.connecting ??= this.openSocket(config, config.appToken)
      .catch(async (err: unknown) => {
        this.failures++;
        await this.alarmBy(Date.now() + this.backoff());
        throw err;
      })
      .finally(() => (this.connecting = null));
    await this.connecting;
  }

  private backoff(): number {
    return Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, this.failures - 1));
  }

  private async openSocket(config: SlackConfig, appToken: string): Promise<void> {
    const url = new URL(await new SlackWebApi({ baseUrl: config.apiBaseUrl, token: appToken }).openConnection());
    // The runtime opens WebSockets with a fetch upgrade, which takes http(s) URLs.
    url.protocol = url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : url.protocol;
    const res = await fetch(url.toString(), { headers: { Upgrade: "websocket" } });
    const socket = res.webSocket;
    if (!socket) throw new Error(`Socket Mode ${url.host} answered ${res.status} without a WebSocket`);
    socket.accept();
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.onFrame(socket, typeof event.data === "string" ? event.data : "");
    });
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.onDropped();
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) this.onDropped();
    });
  }

  private onFrame(socket: WebSocket, text: string): void {
    let frame: z.infer<typeof SocketFrame>;
    try {
      frame = SocketFrame.parse(JSON.parse(text));
    } catch (err) {
      console.warn(`slack socket mode: unreadable frame (${(err as Error).message}): ${text.slice(0, 200)}`);
      return;
    }
    if (frame.type === "hello") return this.onHello();
    if (frame.type === "disconnect") {
      // Slack is about to close this connection (refresh_requested, warning ...): a fresh one now.
      console.log(`slack socket mode: disconnect (${frame.reason ?? "?"})`);
      this.socket = null;
      socket.close(1000, "reconnecting");
      this.ctx.waitUntil(this.ensureConnected().catch((err: unknown) => console.warn(`slack socket mode: ${(err as Error).message}`)));
      return;
    }
    if (frame.envelope_id === undefined) return;
    if (frame.type === "events_api") {
      const callback = EventCallback.safeParse(frame.payload);
      // Recorded (durably, synchronously) before the acknowledgement goes out: an acked event is never lost.
      if (callback.success && this.record(`${callback.data.team_id}:${callback.data.event_id}`, JSON.stringify(callback.data), Date.now())) this.drainSoon();
    }
    socket.send(JSON.stringify({ envelope_id: frame.envelope_id }));
  }

  /** A connection is up. After any earlier one, whatever was sent in between is fetched first (a gap fill). */
  private onHello(): void {
    this.failures = 0;
    if (this.count("socket_hellos") > 0 && this.sql.exec("SELECT 1 FROM portal_rooms LIMIT 1").toArray().length > 0) {
      this.sql.exec("INSERT INTO inbox (kind, payload) VALUES ('gap_fill', '{}')");
      this.drainSoon();
    }
    this.bump("socket_hellos");
  }

  private onDropped(): void {
    console.log("slack socket mode: connection dropped");
    this.socket = null;
    this.failures++;
    this.bump("socket_drops");
    const retry = async () => {
      await new Promise((resolve) => setTimeout(resolve, this.backoff()));
      await this.ensureConnected();
    };
    // Reconnected from here while the object lives, from the watchdog alarm if it is evicted.
    this.ctx.waitUntil(retry().catch((err: unknown) => console.warn(`slack socket mode: ${(err as Error).message}`)));
  }

  // ---- the dispatcher's I/O ----

  private dispatchContext(config: SlackConfig): SlackDispatchContext {
    const { serverName } = config.identity;
    return {
      servesTeam: async (team) => (await this.tokens.tokensFor(team)) !== null,
      ghostUserId: (team, user) => `@${ghostLocalpart(remoteUserId(`${team}:${user}`))}:${serverName}`,
      profiles: (team, userIds) => this.userProfiles(team, userIds),
      customEmoji: (team, names) => this.customEmoji(team, names),
      toPortal: (event) => portalStub(this.env, SLACK_NETWORK_ID, event.portalKey).handleRemoteEvent(SLACK_NETWORK_ID, event),
      toPortalChange: (change) => portalStub(this.env, SLACK_NETWORK_ID, change.portalKey).handleRemoteChange(SLACK_NETWORK_ID, change),
      chatChanged: async (key) => void (await portalStub(this.env, SLACK_NETWORK_ID, key).syncChatInfo(SLACK_NETWORK_ID)),
      rememberPortal: async (roomId, key) => this.rememberPortal(roomId, key),
      takeReactionEcho: async (channel, ts, name) => this.sql.exec("DELETE FROM reaction_echoes WHERE echo = ?", `${channel}:${ts}:${name}`).rowsWritten > 0,
      tokensRevoked: (team) => this.authFailed(team, "tokens_revoked"),
      profileChanged: async (team, user) => this.profileChanged(team, user),
      isBridgeBot: async (team, user) => (await this.tokens.botUserId(team)) === user,
    };
  }

  // ---- tokens: the configured workspace's (secrets), and those installed through OAuth (sealed, here) ----

  /** A workspace's tokens (the token store's), for the connector in a portal. */
  tokensFor(team: string): Promise<SlackTokens | null> {
    return this.tokens.tokensFor(team);
  }

  /** A workspace's bot Web API client; a dead token is reported in the management room. */
  private async apiFor(config: SlackConfig, team: string): Promise<SlackWebApi | null> {
    const tokens = await this.tokens.tokensFor(team);
    if (tokens === null) return null;
    return new SlackWebApi({ baseUrl: config.apiBaseUrl, token: tokens.bot, onAuthError: (error) => this.authFailed(team, error) });
  }

  // The OAuth install flow's RPCs (routes.ts, management.ts): see tokens.ts.
  issueOAuthState(): string {
    return this.tokens.issueOAuthState(Date.now());
  }

  checkOAuthState(state: string, consume: boolean): boolean {
    return this.tokens.checkOAuthState(state, consume, Date.now());
  }

  install(install: SlackInstall): Promise<void> {
    return this.tokens.install(install);
  }

  uninstall(team: string): boolean {
    return this.tokens.uninstall(team);
  }

  installs(): { teamId: string; teamName: string }[] {
    return this.tokens.installs();
  }

  /** auth.test of every workspace's bot token, as lines for `ping`. */
  async whoami(): Promise<string[]> {
    const config = loadSlackConfig(this.env);
    if (!config) return [];
    const teams = this.tokens.installs().map((i) => i.teamId);
    if (config.botToken !== undefined) teams.push((await this.tokens.botIdentity(config, config.botToken).catch(() => null))?.teamId ?? "(configured token)");
    const lines: string[] = [];
    for (const team of [...new Set(teams)]) {
      const api = await this.apiFor(config, team).catch(() => null);
      try {
        if (api === null) throw new SlackApiError(401, "invalid_auth", "no token");
        const me = await api.authTest();
        lines.push(`Connected to Slack workspace ${me.team_id} as bot user ${me.user_id}.`);
      } catch (err) {
        lines.push(`Slack refused the bot token of ${team}: ${err instanceof SlackApiError ? err.error : (err as Error).message}.`);
      }
    }
    return lines;
  }

  /** Users' names and avatars: cached, else users.info (a failure leaves the user out: the id stands in). */
  async profiles(api: SlackWebApi, team: string, userIds: string[], nowMs = Date.now()): Promise<Record<string, SlackProfile>> {
    const out: Record<string, SlackProfile> = {};
    await Promise.all(
      [...new Set(userIds)].map(async (id) => {
        const key = `${team}:${id}`;
        const row = this.sql.exec<{ name: string; avatar_url: string | null; fetched_at: number }>("SELECT * FROM slack_users WHERE user_id = ?", key).toArray()[0];
        if (row && row.fetched_at >= nowMs - USER_PROFILE_TTL_MS) return void (out[id] = row.avatar_url === null ? { name: row.name } : { name: row.name, avatarUrl: row.avatar_url });
        try {
          const user = await api.usersInfo(id);
          const profile: SlackProfile = { name: slackDisplayName(user) };
          const avatar = slackAvatarUrl(user);
          if (avatar !== undefined) profile.avatarUrl = avatar;
          out[id] = profile;
          this.sql.exec(
            "INSERT INTO slack_users (user_id, name, avatar_url, fetched_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, avatar_url = excluded.avatar_url, fetched_at = excluded.fetched_at",
            key,
            profile.name,
            avatar ?? null,
            nowMs,
          );
        } catch (err) {
          console.warn(`slack users.info ${id}: ${(err as Error).message}`);
        }
      }),
    );
    return out;
  }

  /**
   * A user_change's profile into the cache; the workspace's portals when the user was shown before (a cached row:
   * rows are kept, only refreshed when stale) and their name or avatar is not what was shown.
   */
  private profileChanged(team: string, user: SlackUser, nowMs = Date.now()): PortalKey[] {
    const key = `${team}:${user.id}`;
    const row = this.sql.exec<{ name: string; avatar_url: string | null }>("SELECT name, avatar_url FROM slack_users WHERE user_id = ?", key).toArray()[0];
    if (!row) return [];
    const name = slackDisplayName(user);
    const avatar = slackAvatarUrl(user) ?? null;
    this.sql.exec("UPDATE slack_users SET name = ?, avatar_url = ?, fetched_at = ? WHERE user_id = ?", name, avatar, nowMs, key);
    if (row.name === name && row.avatar_url === avatar) return [];
    return this.sql
      .exec<{ portal_key: string }>("SELECT DISTINCT portal_key FROM portal_rooms WHERE substr(portal_key, 1, ?) = ?", team.length + 1, `${team}:`)
      .toArray()
      .map((r) => portalKey(r.portal_key));
  }

  /** Profiles through this object's cache (the dispatcher's, and the connector's in a portal). */
  async userProfiles(team: string, userIds: string[]): Promise<Record<string, SlackProfile>> {
    const config = loadSlackConfig(this.env);
    const api = config ? await this.apiFor(config, team) : null;
    return api ? this.profiles(api, team, userIds) : {};
  }

  /**
   * Custom workspace emoji as mxc:// URIs: the names in emoji.list (cached for EMOJI_LIST_TTL_MS, aliases followed
   * once), each image downloaded from Slack's emoji host and uploaded to the media repository as the bridge bot
   * once per image URL. Names that are not custom emoji, or whose image fails, are left out (they stay `:name:`).
   */
  async customEmoji(team: string, names: string[], nowMs = Date.now()): Promise<Record<string, string>> {
    const config = loadSlackConfig(this.env);
    const api = config ? await this.apiFor(config, team) : null;
    if (!config || !api) return {};
    const list = await this.emojiList(api, team, nowMs);
    const out: Record<string, string> = {};
    for (const name of new Set(names)) {
      const entry = list[name];
      const source = entry?.startsWith("alias:") ? list[entry.slice(6)] : entry;
      if (source === undefined || source.startsWith("alias:")) continue;
      const known = this.sql.exec<{ mxc: string }>("SELECT mxc FROM emoji_images WHERE source = ?", source).toArray()[0];
      if (known) {
        out[name] = known.mxc;
        continue;
      }
      try {
        const res = await fetch(source);
        const type = res.headers.get("content-type") ?? "";
        if (!res.ok || !type.startsWith("image/")) throw new Error(`answered ${res.status} ${type}`);
        const bytes = await readCapped(res, MAX_EMOJI_BYTES);
        const bot = `@${config.identity.botLocalpart}:${config.identity.serverName}`;
        const mxc = await this.intent(config).upload(bot, bytes, type, name);
        this.sql.exec("INSERT OR REPLACE INTO emoji_images (source, mxc) VALUES (?, ?)", source, mxc);
        out[name] = mxc;
      } catch (err) {
        console.warn(`slack emoji :${name}: (${source}): ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** The name of a custom emoji whose image the bridge uploaded as `mxc`, in the workspace's (cached) emoji.list. */
  async customEmojiName(team: string, mxc: string, nowMs = Date.now()): Promise<string | undefined> {
    const source = this.sql.exec<{ source: string }>("SELECT source FROM emoji_images WHERE mxc = ?", mxc).toArray()[0]?.source;
    const config = loadSlackConfig(this.env);
    const api = source === undefined || !config ? null : await this.apiFor(config, team);
    if (api === null) return undefined;
    return Object.entries(await this.emojiList(api, team, nowMs)).find(([, value]) => value === source)?.[0];
  }

  /** A workspace's emoji.list, cached; a failure (e.g. no emoji:read scope) gives none, and is asked again next time. */
  private async emojiList(api: SlackWebApi, team: string, nowMs: number): Promise<Record<string, string>> {
    const row = this.sql.exec<{ list: string; fetched_at: number }>("SELECT list, fetched_at FROM emoji_lists WHERE team = ?", team).toArray()[0];
    if (row && row.fetched_at >= nowMs - EMOJI_LIST_TTL_MS) return JSON.parse(row.list) as Record<string, string>;
    try {
      const list = await api.emojiList();
      this.sql.exec("INSERT OR REPLACE INTO emoji_lists (team, list, fetched_at) VALUES (?, ?, ?)", team, JSON.stringify(list), nowMs);
      return list;
    } catch (err) {
      console.warn(`slack emoji.list ${team}: ${(err as Error).message}`);
      return {};
    }
  }

  /** The appservice's Client-Server calls, over the Worker's loopback. */
  private intent(config: SlackConfig): MatrixIntent {
    return new MatrixIntent(homeserverFetch(this.ctx), this.env.PUBLIC_BASEURL, config.identity.asToken);
  }

  /**
   * `bridge <channel>`: opens a conversation's portal without waiting for its next message, from its newest one
   * (the room is created with its recent history). Answers the room id, or why not.
   */
  async bridgeConversation(team: string, channel: string): Promise<{ roomId: string } | { error: string }> {
    const config = loadSlackConfig(this.env);
    if (!config) return { error: "the bridge is not enabled" };
    const key = slackPortalKey(team, channel);
    const [newest] = await new SlackNetworkApi(this.env, config).fetchMessages(key, null, 1).catch(() => []);
    if (newest === undefined) return { error: `${channel} has no message to start from (or the bot is not in it)` };
    const result = await portalStub(this.env, SLACK_NETWORK_ID, key).handleRemoteEvent(SLACK_NETWORK_ID, newest);
    this.rememberPortal(result.roomId, key);
    return { roomId: result.roomId };
  }

  /** The workspaces the bridge has tokens for: installed ones, and the configured token's. */
  teams(): Promise<string[]> {
    return this.tokens.teams();
  }

  /** Before the bridge adds a reaction for the person: its reaction_added echo is then dropped once. */
  expectReactionEcho(channel: string, ts: string, name: string): void {
    this.sql.exec("INSERT OR REPLACE INTO reaction_echoes (echo, expires_at) VALUES (?, ?)", `${channel}:${ts}:${name}`, Date.now() + ECHO_TTL_MS);
  }

  /** The portal a Matrix room belongs to, or null. */
  portalOfRoom(roomId: string): string | null {
    return this.sql.exec<{ portal_key: string }>("SELECT portal_key FROM portal_rooms WHERE room_id = ?", roomId).toArray()[0]?.portal_key ?? null;
  }

  rememberPortal(roomId: string, key: PortalKey | string): void {
    this.sql.exec("INSERT INTO portal_rooms (room_id, portal_key) VALUES (?, ?) ON CONFLICT DO NOTHING", roomId, key);
  }

  portals(): { roomId: string; key: string }[] {
    return this.sql.exec<{ room_id: string; portal_key: string }>("SELECT * FROM portal_rooms ORDER BY portal_key").toArray().map((r) => ({ roomId: r.room_id, key: r.portal_key }));
  }

  // ---- management rooms and notices ----

  addManagementRoom(roomId: string): void {
    this.sql.exec("INSERT INTO management_rooms (room_id) VALUES (?) ON CONFLICT DO NOTHING", roomId);
  }

  isManagementRoom(roomId: string): boolean {
    return this.sql.exec("SELECT 1 FROM management_rooms WHERE room_id = ?", roomId).toArray().length > 0;
  }

  /**
   * A workspace's tokens are dead (a Web API call said so, or Slack sent tokens_revoked / app_uninstalled): the
   * person is told in each management room, once per workspace and install (or configured bot token).
   */
  async authFailed(team: string, error: string): Promise<void> {
    const config = loadSlackConfig(this.env);
    if (!config) return;
    const fingerprint = await tokenFingerprint(`${team}:${this.tokens.sealedBotToken(team) ?? config.botToken ?? ""}`);
    if (this.sql.exec("INSERT INTO auth_notices (fingerprint) VALUES (?) ON CONFLICT DO NOTHING", fingerprint).rowsWritten === 0) return;
    const { identity } = config;
    const bot = `@${identity.botLocalpart}:${identity.serverName}`;
    const intent = this.intent(config);
    const body = `Slack stopped accepting the bridge's token (${error}): nothing is bridged until the app is installed again. Say "login" for the install link.`;
    for (const { room_id: roomId } of this.sql.exec<{ room_id: string }>("SELECT room_id FROM management_rooms").toArray()) {
      await intent.sendMessage(bot, roomId, { msgtype: "m.notice", body }, Date.now(), `auth.${fingerprint.slice(0, 16)}.${roomId}`);
    }
  }

  status(): SlackBridgeStatus {
    const config = loadSlackConfig(this.env);
    return {
      bot: this.tokens.storedBotIdentity(),
      eventsAccepted: this.count("events_accepted"),
      duplicatesDropped: this.count("duplicates_dropped"),
      portals: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM portal_rooms").one().n,
      installs: this.tokens.installs(),
      pending: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM inbox").one().n,
      givenUp: this.count("events_given_up"),
      socket: {
        enabled: config?.appToken !== undefined,
        connected: this.socket !== null,
        hellos: this.count("socket_hellos"),
        drops: this.count("socket_drops"),
        gapFills: this.count("gap_fills"),
      },
    };
  }
}

/** The bridge's one state object. */
export function slackBridge(env: Env) {
  return env.SLACK_BRIDGE.get(env.SLACK_BRIDGE.idFromName("bridge"));
}
