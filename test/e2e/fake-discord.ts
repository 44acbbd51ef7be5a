import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIAttachment, APIChannel, APIGuild, APIMessage, APIUser, APIWebhook, GatewayMessageCreateDispatchData } from "discord-api-types/v10";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A fake Discord on 127.0.0.1 speaking the documented wire protocol, for the bridge's end-to-end tests and the
 * benchmark: the REST endpoints the bridge calls (GET /gateway/bot, GET /users/@me, /users/@me/guilds,
 * GET /channels/{id}, GET /guilds/{id}, /guilds/{id}/channels, GET /channels/{id}/messages/pins, GET /channels/{id}/messages (the history, paged with
 * after / before), GET /channels/{id}/messages/{id}, POST /channels/{id}/messages (JSON or multipart with files),
 * POST .../typing, POST .../threads, GET/POST /channels/{id}/webhooks and executing, editing and deleting through a
 * webhook (/webhooks/{id}/{token}..., no bot token, JSON or multipart), with 429s on demand) and a gateway WebSocket (HELLO, IDENTIFY -> READY + GUILD_CREATE, RESUME -> replay + RESUMED
 * or op 9, heartbeat ACKs, dispatches on demand; it can drop connections, invalidate sessions and revoke the token
 * with close code 4004). Like Discord, it dispatches MESSAGE_CREATE for the messages the bot itself posts, so the
 * bridge's echo suppression is exercised. With `userToken` set it also takes the person's own user token (bare, no
 * "Bot "): GET /gateway, a user READY (whole guilds, private_channels), messages and reactions authored by `user`,
 * and the read marker (POST .../ack).
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
  /** Every message the bot (or, with a user token, the user) posted (after any 429s), with the files of a multipart post. */
  readonly posted: { channelId: string; body: Record<string, unknown>; message: APIMessage; files: { filename: string; contentType: string; bytes: Uint8Array }[] }[] = [];
  /** Each channel's messages, oldest first (what GET /channels/{id}/messages reads). */
  readonly history = new Map<string, APIMessage[]>();
  /** Each channel's pins, newest first, with when each was pinned (GET /channels/{id}/messages/pins). */
  readonly pins = new Map<string, { messageId: string; pinnedAt: string }[]>();
  /** POST /channels/{id}/typing calls, by channel. */
  readonly typingCalls: string[] = [];
  /** IDENTIFYs refused because the token was revoked, and sessions closed with a code. */
  refusedIdentifies = 0;
  /** Every PATCH of a bot message, DELETE of one, and reaction the bot added (PUT) or removed (DELETE); the user's alike, with a user token. */
  readonly edited: { channelId: string; messageId: string; body: Record<string, unknown> }[] = [];
  readonly deleted: { channelId: string; messageId: string }[] = [];
  readonly botReactions: { channelId: string; messageId: string; emoji: string; removed: boolean }[] = [];
  /** Webhooks by id (created with POST /channels/{id}/webhooks, or planted by a test). */
  readonly webhooks = new Map<string, APIWebhook>();
  /** Channels where the bot lacks MANAGE_WEBHOOKS: the webhook endpoints answer 403 (code 50013) there. */
  readonly noManageWebhooks = new Set<string>();
  /** Every message executed through a webhook (`threadId`: its ?thread_id=), and every edit and deletion through one. */
  readonly webhookPosts: { webhookId: string; query: Record<string, string>; body: Record<string, unknown>; message: APIMessage; files: { filename: string; contentType: string; bytes: Uint8Array }[] }[] = [];
  readonly webhookEdits: { webhookId: string; messageId: string; query: Record<string, string>; body: Record<string, unknown> }[] = [];
  readonly webhookDeletes: { webhookId: string; messageId: string; query: Record<string, string> }[] = [];
  /** Files served at /attachments/{id}/{filename} (the CDN: no token), and how often each was downloaded. */
  private readonly files = new Map<string, { bytes: Uint8Array; contentType: string }>();
  readonly downloads = new Map<string, number>();
  identifies = 0;
  resumes = 0;
  heartbeats = 0;
  rateLimited = 0;
  /** The next N POST /channels/{id}/messages answer 429 with retry_after. */
  rateLimitNext = 0;
  heartbeatIntervalMs = 41_250;
  /** GET /gateway/bot's session_start_limit: IDENTIFYs left today, and when the budget resets (ms). */
  sessionStartLimit = { remaining: 999, reset_after: 0 };
  gatewayBotCalls = 0;

  private readonly log: Dispatched[] = [];
  private readonly sessions = new Set<Session>();
  private readonly sessionIds = new Set<string>();
  private nextSnowflake = 1_100_000_000_000_000_000n;
  private readonly server: Server;
  private readonly wss: WebSocketServer;

  private botToken: string;
  /** The person's own account, for the opt-in user-token login (`login user <token>`). */
  readonly user: APIUser = { id: "310000000000000077", username: "me", discriminator: "0", global_name: "Me Myself", avatar: null };
  /** The person's user token, when a test gives them one: sent bare (no "Bot "), it acts as `user` on REST and gateway. */
  userToken: string | null = null;
  /** Every IDENTIFY's `d` without its token (a user's has `capabilities` and `properties`, no `intents`). */
  readonly identifyData: Record<string, unknown>[] = [];
  /** Every POST /channels/{id}/messages/{id}/ack (a user's read marker), with its body. */
  readonly acks: { channelId: string; messageId: string; body: unknown }[] = [];
  /**
   * When above 0, a posted message's MESSAGE_CREATE goes out this many ms before the REST answer (Discord does not
   * order the two), so the echo reaches the bridge while its send is still waiting.
   */
  echoBeforeAnswerMs = 0;

  constructor(botToken: string) {
    this.botToken = botToken;
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

  /** The CDN (avatars, icons, attachments) is served at the root. */
  get cdnBaseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
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

  /** A file on the fake CDN, as the attachment object of a message. */
  attachment(filename: string, contentType: string, bytes: Uint8Array, size?: { width: number; height: number }): APIAttachment {
    const id = this.snowflake();
    this.files.set(`/attachments/${id}/${filename}`, { bytes, contentType });
    return {
      id,
      filename,
      content_type: contentType,
      size: bytes.byteLength,
      url: `http://127.0.0.1:${this.port}/attachments/${id}/${filename}?ex=signed`,
      proxy_url: `http://127.0.0.1:${this.port}/proxy/${id}/${filename}`,
      ...(size ?? {}),
    };
  }

  /** MESSAGE_CREATE of a user's message in a channel (a reply when `replyTo` is given). */
  userMessage(channelId: string, author: APIUser, content: string, mentions: APIUser[] = [], replyTo?: string, attachments: APIAttachment[] = []): GatewayMessageCreateDispatchData {
    const message: GatewayMessageCreateDispatchData = {
      ...this.message(channelId, author, content, mentions),
      attachments,
      ...this.guildOf(channelId),
      ...(replyTo ? { type: 19, message_reference: { type: 0, message_id: replyTo, channel_id: channelId } } : {}),
    };
    this.remember(message);
    this.dispatch("MESSAGE_CREATE", message);
    return message;
  }

  /** Starts a thread on a message (THREAD_CREATE): a channel of type 11 whose id is the message's. */
  startThread(parentId: string, messageId: string, name: string): APIChannel {
    const parent = this.channels.get(parentId);
    const guildId = parent && "guild_id" in parent ? parent.guild_id : undefined;
    const thread = { id: messageId, type: 11, parent_id: parentId, name, ...(guildId ? { guild_id: guildId } : {}) } as APIChannel;
    this.channels.set(thread.id, thread);
    this.dispatch("THREAD_CREATE", { ...thread, newly_created: true });
    return thread;
  }

  /** Gives a user an avatar on the fake CDN (`/avatars/{user.id}/{hash}.png`), as Discord's user objects name it. */
  setAvatar(user: APIUser, png: Uint8Array): APIUser {
    const hash = `a${this.snowflake()}`;
    this.files.set(`/avatars/${user.id}/${hash}.png`, { bytes: png, contentType: "image/png" });
    return { ...user, avatar: hash };
  }

  /** A custom emoji's image on the fake CDN (`/emojis/{id}.png`); the message text names it `<:name:id>`. */
  customEmoji(id: string, png: Uint8Array): string {
    this.files.set(`/emojis/${id}.png`, { bytes: png, contentType: "image/png" });
    return `/emojis/${id}.png`;
  }

  /** A channel's new name or topic: CHANNEL_UPDATE, and what GET /channels/{id} answers from now on. */
  updateChannel(channelId: string, patch: { name?: string; topic?: string }): void {
    const updated = { ...this.channels.get(channelId)!, ...patch } as APIChannel;
    this.channels.set(channelId, updated);
    this.dispatch("CHANNEL_UPDATE", updated);
  }

  /** The token is revoked: every session is closed with 4004, and the token is refused from now on. */
  revokeToken(): void {
    this.botToken = `revoked-${this.botToken}`;
    for (const session of this.sessions) session.socket.close(4004, "Authentication failed.");
  }

  /** A new valid token (after a revocation: what the person logs in with). */
  setToken(token: string): void {
    this.botToken = token;
  }

  /** Every session becomes unresumable and is dropped: the next RESUME gets op 9 (d: false). */
  invalidateSessions(): void {
    this.sessionIds.clear();
    this.dropConnections();
  }

  /** MESSAGE_UPDATE of an edit: the whole message with new content and edited_timestamp, as Discord sends it. */
  editMessage(message: APIMessage, content: string): APIMessage {
    const edited = { ...message, content, edited_timestamp: new Date().toISOString() };
    const list = this.history.get(message.channel_id) ?? [];
    const at = list.findIndex((m) => m.id === message.id);
    if (at !== -1) list[at] = edited;
    this.dispatch("MESSAGE_UPDATE", { ...edited, ...this.guildOf(message.channel_id) });
    return edited;
  }

  deleteMessage(channelId: string, messageId: string): void {
    this.history.set(channelId, (this.history.get(channelId) ?? []).filter((m) => m.id !== messageId));
    this.dispatch("MESSAGE_DELETE", { id: messageId, channel_id: channelId, ...this.guildOf(channelId) });
  }

  /** MESSAGE_REACTION_ADD / _REMOVE of a unicode emoji by a user (with member on add in a guild, as Discord does). */
  react(channelId: string, messageId: string, user: APIUser, emoji: string, remove = false): void {
    const guild = this.guildOf(channelId);
    const member = !remove && guild.guild_id ? { member: { user, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } } : {};
    this.dispatch(remove ? "MESSAGE_REACTION_REMOVE" : "MESSAGE_REACTION_ADD", { user_id: user.id, channel_id: channelId, message_id: messageId, emoji: { id: null, name: emoji }, ...guild, ...member });
  }

  /** MESSAGE_REACTION_ADD of a custom emoji (its image on the fake CDN: `customEmoji`) by a user, in a guild with member. */
  reactCustom(channelId: string, messageId: string, user: APIUser, emoji: { id: string; name: string }): void {
    const member = { user, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 };
    this.dispatch("MESSAGE_REACTION_ADD", { user_id: user.id, channel_id: channelId, message_id: messageId, emoji: { ...emoji, animated: false }, ...this.guildOf(channelId), member });
  }

  /** A message pinned (or unpinned) by someone in the Discord app: CHANNEL_PINS_UPDATE, which names no message. */
  pin(channelId: string, messageId: string, pinned = true): void {
    const rest = (this.pins.get(channelId) ?? []).filter((p) => p.messageId !== messageId);
    this.pins.set(channelId, pinned ? [{ messageId, pinnedAt: new Date().toISOString() }, ...rest] : rest);
    this.dispatch("CHANNEL_PINS_UPDATE", { channel_id: channelId, ...this.guildOf(channelId), last_pin_timestamp: this.pins.get(channelId)![0]?.pinnedAt ?? null });
  }

  /** GUILD_MEMBER_UPDATE (GUILD_MEMBERS intent): a member's new server nickname (null: cleared), no message. */
  memberUpdate(guildId: string, user: APIUser, nick: string | null): void {
    this.dispatch("GUILD_MEMBER_UPDATE", { guild_id: guildId, user, nick, roles: [], joined_at: new Date().toISOString(), avatar: null });
  }

  typing(channelId: string, user: APIUser): void {
    this.dispatch("TYPING_START", { channel_id: channelId, user_id: user.id, timestamp: Math.floor(Date.now() / 1000), ...this.guildOf(channelId) });
  }

  private guildOf(channelId: string): { guild_id?: string } {
    const channel = this.channels.get(channelId);
    return channel && "guild_id" in channel && channel.guild_id ? { guild_id: channel.guild_id } : {};
  }

  /** Drops every gateway connection abnormally, as a network failure or a deploy would. */
  dropConnections(): void {
    for (const session of this.sessions) session.socket.terminate();
  }

  /** Keeps a new message in its channel's history. */
  private remember(message: APIMessage): void {
    const list = this.history.get(message.channel_id) ?? [];
    list.push(message);
    this.history.set(message.channel_id, list);
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
        const account = this.accountOf(d["token"]);
        if (account === null) {
          this.refusedIdentifies++;
          return socket.close(4004, "Authentication failed.");
        }
        const { token: _token, ...identify } = d;
        this.identifyData.push(identify);
        this.identifies++;
        session.sessionId = `session-${this.identifies}`;
        this.sessionIds.add(session.sessionId);
        const resumeUrl = `ws://127.0.0.1:${this.port}/gateway`;
        // A user's READY carries its whole guilds and its DMs (private_channels); a bot's, unavailable guilds only.
        const ready =
          account === this.user
            ? { v: 10, user: this.user, guilds: [...this.guilds.values()].map((g) => this.guildPayload(g)), private_channels: [...this.channels.values()].filter((c) => c.type === 1 || c.type === 3), session_id: session.sessionId, resume_gateway_url: resumeUrl }
            : { v: 10, user: this.bot, guilds: [], session_id: session.sessionId, resume_gateway_url: resumeUrl, application: { id: this.bot.id, flags: 0 } };
        // READY takes a sequence number too, like every dispatch.
        this.log.push({ s: this.log.length + 1, t: "READY", d: ready });
        this.sendDispatch(socket, this.log[this.log.length - 1]!);
        // Then a GUILD_CREATE per guild, with its channels (Discord sends them after READY).
        for (const guild of account === this.user ? [] : this.guilds.values()) {
          const event = { s: this.log.length + 1, t: "GUILD_CREATE", d: this.guildPayload(guild) };
          this.log.push(event);
          this.sendDispatch(socket, event);
        }
      } else if (frame.op === 6) {
        const sessionId = d["session_id"];
        if (this.accountOf(d["token"]) === null || typeof sessionId !== "string" || !this.sessionIds.has(sessionId)) {
          return socket.send(JSON.stringify({ op: 9, d: false }));
        }
        this.resumes++;
        session.sessionId = sessionId;
        const seq = typeof d["seq"] === "number" ? d["seq"] : 0;
        for (const event of this.log.filter((e) => e.s > seq && e.t !== "READY" && e.t !== "GUILD_CREATE")) this.sendDispatch(socket, event);
        this.log.push({ s: this.log.length + 1, t: "RESUMED", d: null });
        this.sendDispatch(socket, this.log[this.log.length - 1]!);
      }
    });
  }

  /** Whose token this is: the bot's, the person's (user token), or nobody's. */
  private accountOf(token: unknown): APIUser | null {
    return token === this.botToken ? this.bot : this.userToken !== null && token === this.userToken ? this.user : null;
  }

  /** A guild as GUILD_CREATE (and a user's READY) carries it: with its channels and threads. */
  private guildPayload(guild: Pick<APIGuild, "id" | "name">): Record<string, unknown> {
    const channels = [...this.channels.values()].filter((c) => "guild_id" in c && c.guild_id === guild.id);
    return { ...guild, channels: channels.filter((c) => c.type !== 11), threads: channels.filter((c) => c.type === 11), roles: [] };
  }

  /** A message post's JSON: the body itself, or (multipart, "Uploading Files") `payload_json` and `files[n]`. */
  private async messageBody(req: IncomingMessage, raw: Buffer): Promise<{ body: Record<string, unknown>; files: { filename: string; contentType: string; bytes: Uint8Array }[] }> {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("multipart/form-data")) return { body: JSON.parse(raw.toString("utf8")) as Record<string, unknown>, files: [] };
    const form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData();
    const files: { filename: string; contentType: string; bytes: Uint8Array }[] = [];
    for (const [name, value] of form.entries()) {
      if (!/^files\[\d+\]$/.test(name) || typeof value === "string") continue;
      files.push({ filename: value.name, contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) });
    }
    return { body: JSON.parse(String(form.get("payload_json") ?? "{}")) as Record<string, unknown>, files };
  }

  /**
   * /webhooks/{id}/{token}: POST executes (`?wait=true` answers the message; `?thread_id=` posts in a thread of the
   * webhook's channel), PATCH / DELETE .../messages/{id} edit or delete one of that webhook's messages. Like Discord,
   * the message's author is the webhook with the username given, it carries `webhook_id`, and the gateway is told.
   */
  private async webhookRest(req: IncomingMessage, res: ServerResponse, raw: Buffer, webhookId: string, token: string, messageId: string | undefined): Promise<void> {
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const hook = this.webhooks.get(webhookId);
    if (!hook || hook.token !== token) return reply(404, { message: "Unknown Webhook", code: 10015 });
    const query = Object.fromEntries(new URL(req.url ?? "", "http://fake").searchParams);
    const channelId = query["thread_id"] ?? hook.channel_id ?? "";
    if (query["thread_id"] !== undefined && (this.channels.get(query["thread_id"]) as { parent_id?: string } | undefined)?.parent_id !== hook.channel_id) {
      return reply(400, { message: "Unknown Channel", code: 10003 });
    }
    if (req.method === "POST" && messageId === undefined) {
      const { body, files } = await this.messageBody(req, raw);
      const author: APIUser = { id: hook.id, username: String(body["username"] ?? hook.name ?? "webhook"), discriminator: "0000", global_name: null, avatar: null, bot: true };
      const message: APIMessage = {
        ...this.message(channelId, author, typeof body["content"] === "string" ? body["content"] : "", []),
        webhook_id: hook.id,
        attachments: files.map((f) => this.attachment(f.filename, f.contentType, f.bytes)),
      };
      this.remember(message);
      this.webhookPosts.push({ webhookId, query, body, message, files });
      // Without ?wait=true Discord answers 204 and no message.
      if (query["wait"] === "true") reply(200, message);
      else reply(204);
      this.dispatch("MESSAGE_CREATE", { ...message, ...this.guildOf(channelId) });
      return;
    }
    const list = this.history.get(channelId) ?? [];
    const at = list.findIndex((x) => x.id === messageId && x.webhook_id === webhookId);
    if (messageId === undefined || at === -1) return reply(404, { message: "Unknown Message", code: 10008 });
    if (req.method === "PATCH") {
      const body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      this.webhookEdits.push({ webhookId, messageId, query, body });
      const edited = { ...list[at]!, content: typeof body["content"] === "string" ? body["content"] : list[at]!.content, edited_timestamp: new Date().toISOString() };
      list[at] = edited;
      reply(200, edited);
      this.dispatch("MESSAGE_UPDATE", { ...edited, ...this.guildOf(channelId) });
      return;
    }
    if (req.method === "DELETE") {
      this.webhookDeletes.push({ webhookId, messageId, query });
      reply(204);
      this.deleteMessage(channelId, messageId);
      return;
    }
    return reply(405, { message: "405: Method Not Allowed", code: 0 });
  }

  private async rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? "").replace(/\?.*$/, "");
    const file = req.method === "GET" ? this.files.get(path) : undefined;
    if (file) {
      this.downloads.set(path, (this.downloads.get(path) ?? 0) + 1);
      res.writeHead(200, { "content-type": file.contentType, "content-length": String(file.bytes.byteLength) });
      res.end(file.bytes);
      return;
    }
    if (!path.startsWith("/api/v10/")) return reply(404, { message: "404: Not Found", code: 0 });
    // Webhook execution needs no bot token: the webhook's own token is in the path.
    const hookRoute = /^\/api\/v10\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(\d+))?$/.exec(path);
    if (hookRoute) return this.webhookRest(req, res, Buffer.concat(chunks), hookRoute[1]!, decodeURIComponent(hookRoute[2]!), hookRoute[3]);
    // A bot's token comes as "Bot <token>", a user's bare (as Discord's own clients send it).
    const auth = req.headers.authorization ?? "";
    const account = auth.startsWith("Bot ") ? (auth.slice(4) === this.botToken ? this.bot : null) : this.accountOf(auth) === this.user ? this.user : null;
    if (account === null) return reply(401, { message: "401: Unauthorized", code: 0 });
    const route = path.slice("/api/v10".length);
    let m: RegExpExecArray | null;
    if (req.method === "GET" && route === "/gateway") return reply(200, { url: `ws://127.0.0.1:${this.port}/gateway` });
    if (req.method === "POST" && (m = /^\/channels\/(\d+)\/messages\/(\d+)\/ack$/.exec(route))) {
      if (account !== this.user) return reply(401, { message: "401: Unauthorized", code: 0 });
      this.acks.push({ channelId: m[1]!, messageId: m[2]!, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown });
      return reply(200, { token: null });
    }
    if (req.method === "GET" && route === "/gateway/bot") {
      this.gatewayBotCalls++;
      return reply(200, { url: `ws://127.0.0.1:${this.port}/gateway`, shards: 1, session_start_limit: { total: 1000, ...this.sessionStartLimit, max_concurrency: 1 } });
    }
    if (req.method === "GET" && route === "/users/@me") return reply(200, account);
    if (req.method === "GET" && route === "/users/@me/guilds") return reply(200, [...this.guilds.values()].map((g) => ({ id: g.id, name: g.name, icon: null })));
    if (req.method === "GET" && (m = /^\/guilds\/(\d+)\/channels$/.exec(route))) {
      const guildId = m[1]!;
      if (!this.guilds.has(guildId)) return reply(404, { message: "Unknown Guild", code: 10004 });
      return reply(200, [...this.channels.values()].filter((c) => "guild_id" in c && c.guild_id === guildId && c.type !== 11));
    }
    if (req.method === "GET" && (m = /^\/channels\/(\d+)\/messages$/.exec(route))) {
      // Like Discord: at most `limit` (<= 100) messages after / before the given one (else the newest), newest first.
      const query = new URL(req.url ?? "", "http://fake").searchParams;
      const limit = Math.min(100, Number(query.get("limit") ?? "50"));
      const after = query.get("after");
      const before = query.get("before");
      const all = this.history.get(m[1]!) ?? [];
      const newer = (a: string, b: string) => BigInt(a) > BigInt(b);
      const page = after !== null ? all.filter((x) => newer(x.id, after)).slice(0, limit) : all.filter((x) => before === null || newer(before, x.id)).slice(-limit);
      return reply(200, [...page].reverse().map((x) => ({ ...x, ...this.guildOf(x.channel_id) })));
    }
    if (req.method === "GET" && (m = /^\/channels\/(\d+)\/messages\/pins$/.exec(route))) {
      // Like Discord: newest pin first, at most `limit` (<= 50) pinned before `before` (a time), and whether there are more.
      const query = new URL(req.url ?? "", "http://fake").searchParams;
      const limit = Math.min(50, Number(query.get("limit") ?? "50"));
      const before = query.get("before");
      const older = (this.pins.get(m[1]!) ?? []).filter((p) => before === null || p.pinnedAt < before);
      const history = this.history.get(m[1]!) ?? [];
      const items = older.slice(0, limit).map((p) => ({ pinned_at: p.pinnedAt, message: history.find((x) => x.id === p.messageId) }));
      return reply(200, { items, has_more: older.length > limit });
    }
    if ((m = /^\/channels\/(\d+)\/webhooks$/.exec(route)) && (req.method === "GET" || req.method === "POST")) {
      const channelId = m[1]!;
      const channel = this.channels.get(channelId);
      if (!channel) return reply(404, { message: "Unknown Channel", code: 10003 });
      if (this.noManageWebhooks.has(channelId) || !("guild_id" in channel) || !channel.guild_id) return reply(403, { message: "Missing Permissions", code: 50013 });
      if (req.method === "GET") return reply(200, [...this.webhooks.values()].filter((w) => w.channel_id === channelId));
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { name?: string };
      const id = this.snowflake();
      const hook: APIWebhook = { id, type: 1, token: `hook-token-${id}`, name: body.name ?? null, avatar: null, channel_id: channelId, guild_id: channel.guild_id, application_id: this.bot.id, user: this.bot };
      this.webhooks.set(id, hook);
      return reply(200, hook);
    }
    if (req.method === "GET" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route))) {
      const found = (this.history.get(m[1]!) ?? []).find((x) => x.id === m![2]);
      return found ? reply(200, { ...found, ...this.guildOf(found.channel_id) }) : reply(404, { message: "Unknown Message", code: 10008 });
    }
    if (req.method === "POST" && (m = /^\/channels\/(\d+)\/typing$/.exec(route))) {
      this.typingCalls.push(m[1]!);
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === "POST" && (m = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(route))) {
      const [parentId, messageId] = [m[1]!, m[2]!];
      if (this.channels.has(messageId)) return reply(400, { message: "A thread has already been created for this message", code: 160004 });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { name?: string };
      return reply(201, this.startThread(parentId, messageId, body.name ?? "thread"));
    }
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
      const { body, files } = await this.messageBody(req, Buffer.concat(chunks));
      const reference = body["message_reference"] as { message_id?: string } | undefined;
      const message: APIMessage = {
        ...this.message(channelId, account, typeof body["content"] === "string" ? body["content"] : "", []),
        ...(reference?.message_id ? { type: 19, message_reference: { type: 0, message_id: reference.message_id, channel_id: channelId } } : {}),
        attachments: files.map((f) => this.attachment(f.filename, f.contentType, f.bytes)),
      };
      this.remember(message);
      this.posted.push({ channelId, body, message, files });
      // Like Discord: the poster's `nonce` comes back in the answer and in MESSAGE_CREATE, never in the history.
      const echo = typeof body["nonce"] === "string" ? { ...message, nonce: body["nonce"] } : message;
      // Discord tells the gateway about the poster's own message too: the bridge must not bring it back.
      if (this.echoBeforeAnswerMs > 0) {
        this.dispatch("MESSAGE_CREATE", echo);
        await new Promise((r) => setTimeout(r, this.echoBeforeAnswerMs));
        return reply(200, echo);
      }
      reply(200, echo);
      this.dispatch("MESSAGE_CREATE", echo);
      return;
    }
    const noContent = () => {
      res.writeHead(204);
      res.end();
    };
    const ownMessage = (channelId: string, messageId: string) => this.posted.find((p) => p.channelId === channelId && p.message.id === messageId);
    if (req.method === "PATCH" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route))) {
      const [channelId, messageId] = [m[1]!, m[2]!];
      const own = ownMessage(channelId, messageId);
      // Like Discord: only the author edits a message's content.
      if (!own) return reply(403, { message: "Cannot edit a message authored by another user", code: 50005 });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      this.edited.push({ channelId, messageId, body });
      own.message = { ...own.message, content: typeof body["content"] === "string" ? body["content"] : own.message.content, edited_timestamp: new Date().toISOString() };
      reply(200, own.message);
      this.dispatch("MESSAGE_UPDATE", { ...own.message, ...this.guildOf(channelId) });
      return;
    }
    if (req.method === "DELETE" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route))) {
      const [channelId, messageId] = [m[1]!, m[2]!];
      if (!ownMessage(channelId, messageId)) return reply(403, { message: "Missing Permissions", code: 50013 });
      this.deleted.push({ channelId, messageId });
      noContent();
      this.deleteMessage(channelId, messageId);
      return;
    }
    if ((req.method === "PUT" || req.method === "DELETE") && (m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(route))) {
      const [channelId, messageId, emoji] = [m[1]!, m[2]!, decodeURIComponent(m[3]!)];
      const removed = req.method === "DELETE";
      this.botReactions.push({ channelId, messageId, emoji, removed });
      noContent();
      this.react(channelId, messageId, account, emoji, removed);
      return;
    }
    return reply(404, { message: "404: Not Found", code: 0 });
  }
}
