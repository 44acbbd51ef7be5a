import { DurableObject } from "cloudflare:workers";
import { GatewayCloseCodes, GatewayIntentBits, GatewayOpcodes } from "discord-api-types/gateway/v10";
import { type PortalKey, remoteUserId } from "../../core/ids";
import { portalStub } from "../../core/portals";
import { DISCORD_NETWORK_ID, type DiscordConfig, ghostLocalpart, loadDiscordConfig } from "../config";
import { type DispatchContext, dispatch } from "../d2m/dispatcher";
import { DiscordRest } from "../rest";
import { GatewayFrame, Hello, Ready } from "./payloads";
import { MetaTable, ensureSchema } from "../../../homeserver/src/util/durable-sqlite";

const SCHEMA_VERSION = 2;
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
/** The watchdog alarm: reconnects (resuming) a dropped gateway, e.g. after a deploy. */
const WATCHDOG_MS = 30_000;
const RECONNECT_SOON_MS = 1_000;
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
  connected: boolean;
  /** READY (or RESUMED) seen on the current connection. */
  ready: boolean;
  sessionId: string | null;
  sequence: number | null;
  botUserId: string | null;
  /** How many times the gateway was identified / resumed since this object's storage began. */
  identifies: number;
  resumes: number;
  fatalError: string | null;
}

/**
 * The Discord gateway connection of the bridge's bot (one object), on the runtime's WebSocket API: HELLO, then
 * IDENTIFY (or RESUME with the stored session), heartbeats on the interval HELLO gave while connected, and every
 * dispatch handed to the d2m dispatcher in arrival order. The session id, last sequence and resume URL are stored,
 * so a dropped socket (every deploy drops it) resumes from the watchdog alarm without losing events.
 * Also keeps the bridge's room -> portal index, which the transaction route reads.
 */
export class DiscordGatewayObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;
  private socket: WebSocket | null = null;
  private connecting: Promise<void> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private acked = true;
  private ready = false;
  private dispatchTail: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      this.sql.exec("CREATE TABLE IF NOT EXISTS portal_rooms (room_id TEXT PRIMARY KEY, portal_key TEXT NOT NULL)");
      this.sql.exec("CREATE TABLE IF NOT EXISTS management_rooms (room_id TEXT PRIMARY KEY)");
    });
  }

  private count(key: string): number {
    return Number(this.store.get(key) ?? "0");
  }

  /** Connects unless connected (or stopped by a fatal close); keeps the watchdog alarm set. */
  async ensureConnected(): Promise<GatewayStatus> {
    const config = loadDiscordConfig(this.env);
    if (config !== null && (await this.stoppedBy(config)) === null) {
      // The watchdog first: a failed connect is retried by it.
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
      if (this.socket === null) {
        this.connecting ??= this.openSocket().finally(() => (this.connecting = null));
        await this.connecting;
      }
    }
    return this.status();
  }

  status(): GatewayStatus {
    const seq = this.store.get("sequence");
    return {
      enabled: loadDiscordConfig(this.env) !== null,
      connected: this.socket !== null,
      ready: this.ready,
      sessionId: this.store.get("session_id"),
      sequence: seq === null ? null : Number(seq),
      botUserId: this.store.get("bot_user_id"),
      identifies: this.count("identifies"),
      resumes: this.count("resumes"),
      fatalError: this.store.get("fatal_error"),
    };
  }

  /** The portal a Matrix room belongs to, or null. */
  portalOfRoom(roomId: string): string | null {
    return this.sql.exec<{ portal_key: string }>("SELECT portal_key FROM portal_rooms WHERE room_id = ?", roomId).toArray()[0]?.portal_key ?? null;
  }

  /** Management rooms: rooms the owner invited the bot to, where it answers commands. */
  addManagementRoom(roomId: string): void {
    this.sql.exec("INSERT INTO management_rooms (room_id) VALUES (?) ON CONFLICT DO NOTHING", roomId);
  }

  isManagementRoom(roomId: string): boolean {
    return this.sql.exec("SELECT 1 FROM management_rooms WHERE room_id = ?", roomId).toArray().length > 0;
  }

  override async alarm(): Promise<void> {
    try {
      await this.ensureConnected();
    } catch (err) {
      console.warn(`discord gateway: reconnect failed: ${(err as Error).message}`);
      await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
      return;
    }
    const config = loadDiscordConfig(this.env);
    if (config !== null && (await this.stoppedBy(config)) === null) await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
  }

  /** The fatal close that stopped the gateway, while the bot token is still the one it was for: a new token retries. */
  private async stoppedBy(config: DiscordConfig): Promise<string | null> {
    const error = this.store.get("fatal_error");
    if (error === null) return null;
    if (this.store.get("fatal_token") === (await tokenFingerprint(config.botToken))) return error;
    this.store.set("fatal_error", null);
    this.store.set("fatal_token", null);
    return null;
  }

  private async recordFatal(code: number): Promise<void> {
    const config = loadDiscordConfig(this.env);
    if (!config) return;
    const fingerprint = await tokenFingerprint(config.botToken);
    this.store.set("fatal_token", fingerprint);
    this.store.set("fatal_error", `Discord closed the gateway with code ${code}`);
  }

  private async openSocket(): Promise<void> {
    const config = loadDiscordConfig(this.env);
    if (!config) return;
    const resumeUrl = this.store.get("resume_url");
    const base = this.store.get("session_id") !== null && resumeUrl !== null ? resumeUrl : await new DiscordRest({ baseUrl: config.apiBaseUrl, botToken: config.botToken }).gatewayUrl();
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
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.onFrame(typeof event.data === "string" ? event.data : "");
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.onClosed(event.code);
    });
    socket.addEventListener("error", () => {
      if (this.socket === socket) this.onClosed(1006);
    });
  }

  private send(payload: { op: GatewayOpcodes; d: unknown }): void {
    this.socket?.send(JSON.stringify(payload));
  }

  private onFrame(text: string): void {
    let frame: GatewayFrame;
    try {
      frame = GatewayFrame.parse(JSON.parse(text));
    } catch (err) {
      console.warn(`discord gateway: unreadable frame (${(err as Error).message}): ${text.slice(0, 200)}`);
      return;
    }
    if (typeof frame.s === "number") this.store.set("sequence", String(frame.s));
    switch (frame.op) {
      case GatewayOpcodes.Hello:
        return this.onHello(Hello.parse(frame.d).heartbeat_interval);
      case GatewayOpcodes.HeartbeatAck:
        this.acked = true;
        return;
      case GatewayOpcodes.Heartbeat:
        return this.beat();
      case GatewayOpcodes.Reconnect:
        return this.reconnect(true);
      case GatewayOpcodes.InvalidSession:
        return this.reconnect(frame.d === true);
      case GatewayOpcodes.Dispatch:
        return this.onDispatch(frame.t ?? "", frame.d);
    }
  }

  private onHello(intervalMs: number): void {
    const config = loadDiscordConfig(this.env);
    if (!config) return;
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => this.beat(), intervalMs);
    const sessionId = this.store.get("session_id");
    const seq = this.store.get("sequence");
    if (sessionId !== null && seq !== null) {
      this.store.set("resumes", String(this.count("resumes") + 1));
      this.send({ op: GatewayOpcodes.Resume, d: { token: config.botToken, session_id: sessionId, seq: Number(seq) } });
    } else {
      this.store.set("identifies", String(this.count("identifies") + 1));
      this.send({
        op: GatewayOpcodes.Identify,
        d: { token: config.botToken, intents: INTENTS, properties: { os: "cloudflare-workers", browser: "matrix-inbox", device: "matrix-inbox" } },
      });
    }
  }

  /** A heartbeat; if the last one was never acknowledged the connection is a zombie: resume on a new one. */
  private beat(): void {
    if (!this.acked) return this.reconnect(true);
    this.acked = false;
    const seq = this.store.get("sequence");
    this.send({ op: GatewayOpcodes.Heartbeat, d: seq === null ? null : Number(seq) });
  }

  private onDispatch(eventName: string, data: unknown): void {
    if (eventName === "READY") {
      const ready = Ready.parse(data);
      this.store.set("session_id", ready.session_id);
      this.store.set("resume_url", ready.resume_gateway_url);
      this.store.set("bot_user_id", ready.user.id);
      this.ready = true;
      console.log("discord gateway: ready");
      return;
    }
    if (eventName === "RESUMED") {
      console.log("discord gateway: resumed");
      this.ready = true;
      return;
    }
    // One at a time, in the order Discord sent them.
    this.dispatchTail = this.dispatchTail.then(() =>
      dispatch(this.dispatchContext(), eventName, data).catch((err: unknown) => console.error(`discord ${eventName}: ${(err as Error).message}`)),
    );
    this.ctx.waitUntil(this.dispatchTail);
  }

  private dispatchContext(): DispatchContext {
    const config = loadDiscordConfig(this.env);
    const serverName = config?.identity.serverName ?? "";
    return {
      ghostUserId: (id) => `@${ghostLocalpart(remoteUserId(id))}:${serverName}`,
      toPortal: (event) => portalStub(this.env, DISCORD_NETWORK_ID, event.portalKey).handleRemoteEvent(DISCORD_NETWORK_ID, event),
      toPortalChange: (change) => portalStub(this.env, DISCORD_NETWORK_ID, change.portalKey).handleRemoteChange(DISCORD_NETWORK_ID, change),
      botUserId: () => this.store.get("bot_user_id"),
      now: () => Date.now(),
      rememberPortal: (roomId: string, key: PortalKey) => {
        this.sql.exec("INSERT INTO portal_rooms (room_id, portal_key) VALUES (?, ?) ON CONFLICT DO NOTHING", roomId, key);
      },
    };
  }

  /** Closes this connection and opens the next one soon: resuming when the session allows it. */
  private reconnect(resumable: boolean): void {
    if (!resumable) {
      this.store.set("session_id", null);
      this.store.set("sequence", null);
      this.store.set("resume_url", null);
    }
    this.socket?.close(4000, "reconnecting");
    this.onClosed(4000);
  }

  private onClosed(code: number): void {
    console.log(`discord gateway: closed (${code})`);
    this.socket = null;
    this.ready = false;
    this.stopHeartbeat();
    if (FATAL_CLOSE_CODES.has(code)) {
      void this.recordFatal(code);
      console.error(`discord gateway: closed with code ${code}; not reconnecting (check the bot token and intents)`);
      return;
    }
    void this.ctx.storage.setAlarm(Date.now() + RECONNECT_SOON_MS);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
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
