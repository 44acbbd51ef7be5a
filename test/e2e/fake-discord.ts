import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIChannel, APIGuild, APIMessage, APIUser, GatewayMessageCreateDispatchData } from "discord-api-types/v10";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A fake Discord on 127.0.0.1 speaking the documented wire protocol, for the bridge's end-to-end tests: the REST
 * endpoints the bridge calls (GET /gateway/bot, GET /users/@me, GET /channels/{id}, GET /guilds/{id},
 * POST /channels/{id}/messages, with 429s on demand) and a gateway WebSocket (HELLO, IDENTIFY -> READY,
 * RESUME -> replay + RESUMED, heartbeat ACKs, dispatches on demand). Like Discord, it dispatches MESSAGE_CREATE
 * for the messages the bot itself posts, so the bridge's echo suppression is exercised.
 */

interface Dispatched {
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  socket: WebSocket;
  sessionId: string | null;
}

export class FakeDiscord {
  readonly bot: APIUser = { id: "900000000000000001", username: "inbox-bridge", discriminator: "0", global_name: null, avatar: null, bot: true };
  readonly channels = new Map<string, APIChannel>();
  readonly guilds = new Map<string, Pick<APIGuild, "id" | "name">>();
  /** Every message the bot posted (after any 429s). */
  readonly posted: { channelId: string; body: Record<string, unknown>; message: APIMessage }[] = [];
  identifies = 0;
  resumes = 0;
  heartbeats = 0;
  rateLimited = 0;
  /** The next N POST /channels/{id}/messages answer 429 with retry_after. */
  rateLimitNext = 0;
  heartbeatIntervalMs = 41_250;

  private readonly log: Dispatched[] = [];
  private readonly sessions = new Set<Session>();
  private readonly sessionIds = new Set<string>();
  private nextSnowflake = 1_100_000_000_000_000_000n;
  private readonly server: Server;
  private readonly wss: WebSocketServer;

  constructor(private readonly botToken: string) {
    this.server = createServer((req, res) => void this.rest(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: "/gateway" });
    this.wss.on("connection", (socket) => this.gateway(socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get apiBaseUrl(): string {
    return `http://127.0.0.1:${this.port}/api/v10`;
  }

  /** Sessions that finished IDENTIFY or RESUME. */
  get connected(): number {
    return [...this.sessions].filter((s) => s.sessionId !== null).length;
  }

  snowflake(): string {
    return String(this.nextSnowflake++);
  }

  /** Sends a dispatch to every identified session; kept, so a session that resumes later gets it too. */
  dispatch(t: string, d: unknown): void {
    const event = { s: this.log.length + 1, t, d };
    this.log.push(event);
    for (const session of this.sessions) if (session.sessionId !== null) this.sendDispatch(session.socket, event);
  }

  /** MESSAGE_CREATE of a user's message in a channel. */
  userMessage(channelId: string, author: APIUser, content: string, mentions: APIUser[] = []): GatewayMessageCreateDispatchData {
    const channel = this.channels.get(channelId);
    const guildId = channel && "guild_id" in channel ? channel.guild_id : undefined;
    const message: GatewayMessageCreateDispatchData = {
      ...this.message(channelId, author, content, mentions),
      ...(guildId ? { guild_id: guildId } : {}),
    };
    this.dispatch("MESSAGE_CREATE", message);
    return message;
  }

  /** Drops every gateway connection abnormally, as a network failure or a deploy would. */
  dropConnections(): void {
    for (const session of this.sessions) session.socket.terminate();
  }

  private message(channelId: string, author: APIUser, content: string, mentions: APIUser[]): APIMessage {
    return {
      id: this.snowflake(),
      channel_id: channelId,
      author,
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions,
      mention_roles: [],
      attachments: [],
      embeds: [],
      pinned: false,
      type: 0,
    };
  }

  private sendDispatch(socket: WebSocket, event: Dispatched): void {
    socket.send(JSON.stringify({ op: 0, s: event.s, t: event.t, d: event.d }));
  }

  private gateway(socket: WebSocket): void {
    const session: Session = { socket, sessionId: null };
    this.sessions.add(session);
    socket.on("close", () => this.sessions.delete(session));
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } }));
    socket.on("message", (raw) => {
      const frame = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> | number | null };
      const d = typeof frame.d === "object" && frame.d !== null ? frame.d : {};
      if (frame.op === 1) {
        this.heartbeats++;
        socket.send(JSON.stringify({ op: 11 }));
      } else if (frame.op === 2) {
        if (d["token"] !== this.botToken) return socket.close(4004, "Authentication failed.");
        this.identifies++;
        session.sessionId = `session-${this.identifies}`;
        this.sessionIds.add(session.sessionId);
        const ready = { v: 10, user: this.bot, guilds: [], session_id: session.sessionId, resume_gateway_url: `ws://127.0.0.1:${this.port}/gateway`, application: { id: this.bot.id, flags: 0 } };
        // READY takes a sequence number too, like every dispatch.
        this.log.push({ s: this.log.length + 1, t: "READY", d: ready });
        this.sendDispatch(socket, this.log[this.log.length - 1]!);
      } else if (frame.op === 6) {
        const sessionId = d["session_id"];
        if (d["token"] !== this.botToken || typeof sessionId !== "string" || !this.sessionIds.has(sessionId)) {
          return socket.send(JSON.stringify({ op: 9, d: false }));
        }
        this.resumes++;
        session.sessionId = sessionId;
        const seq = typeof d["seq"] === "number" ? d["seq"] : 0;
        for (const event of this.log.filter((e) => e.s > seq && e.t !== "READY")) this.sendDispatch(socket, event);
        this.log.push({ s: this.log.length + 1, t: "RESUMED", d: null });
        this.sendDispatch(socket, this.log[this.log.length - 1]!);
      }
    });
  }

  private async rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? "").replace(/\?.*$/, "");
    if (!path.startsWith("/api/v10/")) return reply(404, { message: "404: Not Found", code: 0 });
    if (req.headers.authorization !== `Bot ${this.botToken}`) return reply(401, { message: "401: Unauthorized", code: 0 });
    const route = path.slice("/api/v10".length);
    let m: RegExpExecArray | null;
    if (req.method === "GET" && route === "/gateway/bot") {
      return reply(200, { url: `ws://127.0.0.1:${this.port}/gateway`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } });
    }
    if (req.method === "GET" && route === "/users/@me") return reply(200, this.bot);
    if (req.method === "GET" && (m = /^\/channels\/(\d+)$/.exec(route))) {
      const channel = this.channels.get(m[1]!);
      return channel ? reply(200, channel) : reply(404, { message: "Unknown Channel", code: 10003 });
    }
    if (req.method === "GET" && (m = /^\/guilds\/(\d+)$/.exec(route))) {
      const guild = this.guilds.get(m[1]!);
      return guild ? reply(200, guild) : reply(404, { message: "Unknown Guild", code: 10004 });
    }
    if (req.method === "POST" && (m = /^\/channels\/(\d+)\/messages$/.exec(route))) {
      const channelId = m[1]!;
      if (!this.channels.has(channelId)) return reply(404, { message: "Unknown Channel", code: 10003 });
      if (this.rateLimitNext > 0) {
        this.rateLimitNext--;
        this.rateLimited++;
        return reply(429, { message: "You are being rate limited.", retry_after: 0.3, global: false });
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      const message = this.message(channelId, this.bot, typeof body["content"] === "string" ? body["content"] : "", []);
      this.posted.push({ channelId, body, message });
      reply(200, message);
      // Discord tells the gateway about the bot's own message too: the bridge must not bring it back.
      this.dispatch("MESSAGE_CREATE", message);
      return;
    }
    return reply(404, { message: "404: Not Found", code: 0 });
  }
}
