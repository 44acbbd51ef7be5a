import { createHmac, randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A fake Slack on 127.0.0.1 speaking the documented wire protocols, for the bridge's end-to-end tests and benchmark:
 * - the Web API methods the bridge calls (auth.test, users.info, conversations.info/history/replies/mark,
 *   team.info, emoji.list, chat.postMessage/update/delete, reactions.add/remove, the external file upload flow,
 *   files.info, apps.connections.open), with 429 + Retry-After on demand, bot and user tokens told apart, `invalid_auth` for
 *   any other (or a revoked) token; the OAuth install (the authorize page approves at once, oauth.v2.access issues
 *   new tokens);
 * - file downloads from `url_private` (the bot token required), public avatar and custom emoji images;
 * - the Events API side: signed deliveries (`X-Slack-Signature` v0 HMAC over `v0:{ts}:{body}`) to the bridge's
 *   request URL, with retries (`X-Slack-Retry-Num`), forged signatures and stale timestamps on demand;
 * - Socket Mode: a WebSocket at the URL apps.connections.open gives, sending `hello`, event envelopes (recording
 *   each acknowledgement; unacknowledged ones are sent again on the next connection, up to three retries; those sent
 *   while no connection is open are lost), a `disconnect` message or a hard drop on demand.
 * Like Slack, every message it stores is in the channel's history, and whatever the bridge does (post, edit,
 * delete, react, share a file) comes back as an event, before the Web API call answers: the hardest order for the
 * bridge's echo suppression.
 */

export interface SlackUser {
  id: string;
  name: string;
  real_name?: string;
  profile?: { display_name?: string; real_name?: string; image_512?: string };
}

export interface SlackChannel {
  id: string;
  name?: string;
  topic?: { value: string };
  is_im?: boolean;
  user?: string;
}

export interface EventEnvelope {
  token: string;
  team_id: string;
  api_app_id: string;
  event: Record<string, unknown>;
  type: "event_callback";
  event_id: string;
  event_time: number;
}

export interface DeliveryOptions {
  /** Signs with another secret: the bridge must refuse it. */
  forgeSignature?: boolean;
  /** Stamps the delivery this many seconds in the past (and signs that): past 300 the bridge must refuse it. */
  ageSeconds?: number;
  /** Marks the delivery as Slack's Nth retry of the same event. */
  retryNum?: number;
}

interface StoredFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  bytes: Buffer;
  user: string;
  shares: Record<string, { ts: string }[]>;
}

export interface StoredMessage {
  type: "message";
  subtype?: string;
  user: string;
  text: string;
  ts: string;
  thread_ts?: string;
  files?: Record<string, unknown>[];
  edited?: { user: string; ts: string };
  bot_id?: string;
}

/** One Web API call as the fake received it: method, which token, the arguments. */
export interface WebApiCall {
  method: string;
  token: "bot" | "user" | "app" | "other";
  /** The bearer token itself. */
  bearer: string;
  args: Record<string, unknown>;
}

export class FakeSlack {
  readonly teamId = "T0001";
  readonly teamName = "Test Workspace";
  readonly bot = { userId: "U0BOT", botId: "B0BOT", appId: "A0APP" };
  /** The person's own Slack user: the user token acts as them. */
  readonly person = { userId: "U0ME" };
  readonly users = new Map<string, SlackUser>();
  readonly channels = new Map<string, SlackChannel>();
  /** Every message, per channel, oldest first (thread replies included). */
  readonly history = new Map<string, StoredMessage[]>();
  readonly files = new Map<string, StoredFile>();
  /** Custom workspace emoji: name -> image URL (`emojiImage`), or `alias:other`. */
  readonly emoji = new Map<string, string>();
  /** Every chat.postMessage the bridge made (after any 429s), and when it arrived (performance.now()). */
  readonly posted: { channel: string; text: string; ts: string; thread_ts?: string; token: string; username?: string; at: number }[] = [];
  readonly webApiCalls: WebApiCall[] = [];
  /** Socket Mode: envelope ids acknowledged, in order. */
  readonly acks: string[] = [];
  /** HTTP statuses the bridge answered each Events API delivery with, in order. */
  readonly deliveryStatuses: number[] = [];
  /** Tokens Slack no longer accepts (`token_revoked`). */
  readonly revoked = new Set<string>();
  rateLimited = 0;
  /** The next N chat.postMessage calls answer 429 with Retry-After. */
  rateLimitNext = 0;
  /** The bridge's Events API request URL ("" while events go over Socket Mode). */
  eventsUrl = "";
  /** Socket Mode connections opened (hello sent). */
  socketConnections = 0;
  /** Socket Mode envelopes sent while no connection was open: lost (Slack's own retries given up). */
  lost = 0;
  /** Socket Mode envelopes sent on a connection and not acknowledged yet: Slack sends them again on the next one. */
  readonly unacked = new Map<string, { envelope_id: string; retry_attempt: number } & Record<string, unknown>>();

  private nextEvent = 1;
  private nextFile = 1;
  private lastTs = 0;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private socket: WebSocket | null = null;
  private readonly socketTickets = new Set<string>();
  private readonly socketWaiters: (() => void)[] = [];

  /** Bot and user tokens Slack accepts: the configured ones, and those issued by oauth.v2.access. */
  readonly botTokens = new Set<string>();
  readonly userTokens = new Set<string>();
  /** Slack's authorize page visits (its query), and the codes it handed out. */
  readonly authorizations: Record<string, string>[] = [];
  private readonly codes = new Set<string>();

  constructor(
    private readonly tokens: { bot: string; user?: string; app?: string },
    private readonly signingSecret: string,
    /** The app's OAuth credentials, which oauth.v2.access checks. */
    private readonly oauth: { clientId: string; clientSecret: string } = { clientId: "1111.2222", clientSecret: "fake-client-secret" },
  ) {
    this.botTokens.add(tokens.bot);
    if (tokens.user) this.userTokens.add(tokens.user);
    this.server = createServer((req, res) => void this.http(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on("upgrade", (req, socket, head) => {
      const ticket = new URL(req.url ?? "/", "http://x").searchParams.get("ticket") ?? "";
      // A Socket Mode URL works once, as Slack's do.
      if (!this.socketTickets.delete(ticket)) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  /** Web API method names, in call order. */
  get calls(): string[] {
    return this.webApiCalls.map((c) => c.method);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get apiBaseUrl(): string {
    return `${this.origin}/api`;
  }

  /** A fresh message ts: seconds.microseconds, increasing. */
  ts(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTs + 1);
    this.lastTs = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, "0")}`;
  }

  /** An event_callback envelope, as Slack wraps an event. */
  envelope(event: Record<string, unknown>): EventEnvelope {
    return {
      token: "legacy-verification-token",
      team_id: this.teamId,
      api_app_id: this.bot.appId,
      event,
      type: "event_callback",
      event_id: `Ev${String(this.nextEvent++).padStart(8, "0")}`,
      event_time: Math.floor(Date.now() / 1000),
    };
  }

  private store(channel: string, message: StoredMessage): void {
    const list = this.history.get(channel) ?? [];
    list.push(message);
    this.history.set(channel, list);
  }

  private find(channel: string, ts: string): StoredMessage | undefined {
    return this.history.get(channel)?.find((m) => m.ts === ts);
  }

  /** A user's message in a channel: stored in its history, and the `message` event Slack delivers (not yet delivered). */
  userMessage(channel: string, user: string, text: string, extra: Partial<StoredMessage> = {}): EventEnvelope {
    const ts = this.ts();
    const message: StoredMessage = { type: "message", user, text, ts, ...extra };
    this.store(channel, message);
    return this.envelope({ ...message, channel, event_ts: ts, channel_type: "channel", team: this.teamId });
  }

  /** A user shares a file (stored, served at its url_private with the bot token): the file_share message event. */
  fileMessage(channel: string, user: string, file: { name: string; mimetype: string; bytes: Buffer }, text = ""): EventEnvelope {
    const stored = this.storeFile(user, file.name, file.name, file.mimetype, file.bytes);
    const ts = this.ts();
    stored.shares[channel] = [{ ts }];
    const message: StoredMessage = { type: "message", subtype: "file_share", user, text, ts, files: [this.fileObject(stored)] };
    this.store(channel, message);
    return this.envelope({ ...message, channel, event_ts: ts, channel_type: "channel", team: this.teamId });
  }

  /** A user edits their message: history updated, the `message_changed` event. */
  editMessage(channel: string, ts: string, text: string): EventEnvelope {
    const message = this.find(channel, ts);
    if (!message) throw new Error(`no message ${ts} in ${channel}`);
    const editTs = this.ts();
    message.text = text;
    message.edited = { user: message.user, ts: editTs };
    return this.envelope({ type: "message", subtype: "message_changed", hidden: true, channel, ts: editTs, event_ts: editTs, message: { ...message }, channel_type: "channel" });
  }

  /** A message deleted: gone from history, the `message_deleted` event. */
  deleteMessage(channel: string, ts: string): EventEnvelope {
    const list = this.history.get(channel) ?? [];
    const index = list.findIndex((m) => m.ts === ts);
    const [previous] = list.splice(index, 1);
    const eventTs = this.ts();
    return this.envelope({ type: "message", subtype: "message_deleted", hidden: true, channel, ts: eventTs, deleted_ts: ts, event_ts: eventTs, previous_message: previous, channel_type: "channel" });
  }

  reaction(type: "reaction_added" | "reaction_removed", channel: string, ts: string, user: string, name: string): EventEnvelope {
    const message = this.find(channel, ts);
    return this.envelope({ type, user, reaction: name, item_user: message?.user, item: { type: "message", channel, ts }, event_ts: this.ts() });
  }

  /** The channel renamed (`channel_rename`), or its topic set (a `channel_topic` message): conversations.info follows. */
  renameChannel(channel: string, name: string): EventEnvelope {
    this.channels.set(channel, { ...this.channels.get(channel)!, name });
    return this.envelope({ type: "channel_rename", channel: { id: channel, name, created: 1700000000 }, event_ts: this.ts() });
  }

  setTopic(channel: string, user: string, topic: string): EventEnvelope {
    this.channels.set(channel, { ...this.channels.get(channel)!, topic: { value: topic } });
    const ts = this.ts();
    return this.envelope({ type: "message", subtype: "channel_topic", channel, user, text: `<@${user}> set the channel topic: ${topic}`, topic, ts, event_ts: ts, channel_type: "channel" });
  }

  /** A user joined or left a channel (member_joined_channel / member_left_channel). */
  membership(type: "member_joined_channel" | "member_left_channel", channel: string, user: string): EventEnvelope {
    return this.envelope({ type, user, channel, channel_type: "C", team: this.teamId, event_ts: this.ts() });
  }

  /** A user's profile changed (user_change): users.info answers the new profile from now on. */
  userChange(user: SlackUser): EventEnvelope {
    this.users.set(user.id, user);
    return this.envelope({ type: "user_change", user, cache_ts: Math.floor(Date.now() / 1000), event_ts: this.ts() });
  }

  /** The app uninstalled / tokens revoked: Slack stops accepting the tokens and sends `tokens_revoked`. */
  revokeTokens(): EventEnvelope {
    for (const token of [...this.botTokens, ...this.userTokens]) this.revoked.add(token);
    return this.envelope({ type: "tokens_revoked", tokens: { oauth: this.tokens.user ? [this.person.userId] : [], bot: [this.bot.userId] }, event_ts: this.ts() });
  }

  /**
   * Delivers an envelope the way the app receives events: over the Socket Mode connection when there is one (an
   * envelope sent while disconnected is lost, as Slack does not replay it to a later connection here), else a
   * signed POST to `eventsUrl`. Resolves with the HTTP status (Events API) or 0 (Socket Mode).
   */
  async send(payload: EventEnvelope): Promise<number> {
    if (this.eventsUrl === "") {
      if (this.socket === null) this.lost++;
      else this.sendEnvelope({ envelope_id: randomUUID(), type: "events_api", accepts_response_payload: false, retry_attempt: 0, retry_reason: "", payload });
      return 0;
    }
    return this.deliver(payload);
  }

  private sendEnvelope(envelope: { envelope_id: string; retry_attempt: number } & Record<string, unknown>): void {
    this.unacked.set(envelope.envelope_id, envelope);
    this.socket?.send(JSON.stringify(envelope));
  }

  /** POSTs one signed delivery to the bridge, as Slack does; resolves with the bridge's HTTP status. */
  async deliver(payload: unknown, opts: DeliveryOptions = {}): Promise<number> {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(Date.now() / 1000) - (opts.ageSeconds ?? 0));
    const secret = opts.forgeSignature ? `${this.signingSecret}-forged` : this.signingSecret;
    const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    const headers: Record<string, string> = { "content-type": "application/json", "x-slack-request-timestamp": timestamp, "x-slack-signature": signature };
    if (opts.retryNum !== undefined) {
      headers["x-slack-retry-num"] = String(opts.retryNum);
      headers["x-slack-retry-reason"] = "http_timeout";
    }
    const res = await fetch(this.eventsUrl, { method: "POST", headers, body });
    await res.arrayBuffer();
    this.deliveryStatuses.push(res.status);
    return res.status;
  }

  // ---- Socket Mode ----

  get socketOpen(): boolean {
    return this.socket !== null;
  }

  /** Resolves once a Socket Mode connection is open (hello sent). */
  async socketReady(): Promise<void> {
    if (this.socket !== null) return;
    await new Promise<void>((resolve) => this.socketWaiters.push(resolve));
  }

  private onSocket(ws: WebSocket): void {
    this.socket?.terminate();
    this.socket = ws;
    this.socketConnections++;
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { envelope_id?: string };
      if (typeof frame.envelope_id === "string") {
        this.acks.push(frame.envelope_id);
        this.unacked.delete(frame.envelope_id);
      }
    });
    ws.on("close", () => {
      if (this.socket === ws) this.socket = null;
    });
    ws.send(JSON.stringify({ type: "hello", num_connections: 1, debug_info: { host: "fake", approximate_connection_time: 18060 }, connection_info: { app_id: this.bot.appId } }));
    for (const resolve of this.socketWaiters.splice(0)) resolve();
    // Unacknowledged envelopes come again on the new connection, up to Slack's three retries.
    for (const envelope of [...this.unacked.values()]) {
      if (envelope.retry_attempt >= 3) this.unacked.delete(envelope.envelope_id);
      else this.sendEnvelope({ ...envelope, retry_attempt: envelope.retry_attempt + 1, retry_reason: "timeout" });
    }
  }

  /** Slack's polite `disconnect` (refresh_requested): the app should connect again to a fresh URL. */
  requestReconnect(): void {
    const ws = this.socket;
    ws?.send(JSON.stringify({ type: "disconnect", reason: "refresh_requested", debug_info: { host: "fake" } }));
    // Slack closes the old connection a little later.
    setTimeout(() => ws?.close(), 2000);
  }

  /** A hard drop: the TCP connection just goes. */
  dropSocket(): void {
    this.socket?.terminate();
    this.socket = null;
  }

  // ---- Web API ----

  /** A custom emoji's image URL, and its bytes (served there without a token, as Slack's emoji host does). */
  emojiUrl(name: string): string {
    return `${this.origin}/emoji/${name}.png`;
  }

  emojiImage(file: string): Buffer {
    return Buffer.from(`emoji image ${file}`);
  }

  /** A message as history shows it: a thread's parent with `thread_ts`, `reply_count`, `reply_users` and `latest_reply`. */
  private withThread(all: StoredMessage[], message: StoredMessage): StoredMessage & { reply_count?: number; reply_users_count?: number; reply_users?: string[]; latest_reply?: string } {
    const replies = all.filter((m) => m.thread_ts === message.ts && m.ts !== message.ts);
    const last = replies[replies.length - 1];
    if (last === undefined) return message;
    const users = [...new Set(replies.map((r) => r.user))];
    return { ...message, thread_ts: message.ts, reply_count: replies.length, reply_users_count: users.length, reply_users: users, latest_reply: last.ts };
  }

  private storeFile(user: string, name: string, title: string, mimetype: string, bytes: Buffer): StoredFile {
    const file: StoredFile = { id: `F${String(this.nextFile++).padStart(6, "0")}`, name, title, mimetype, bytes, user, shares: {} };
    this.files.set(file.id, file);
    return file;
  }

  private fileObject(file: StoredFile): Record<string, unknown> {
    const url = `${this.origin}/files-pri/${this.teamId}-${file.id}/${encodeURIComponent(file.name)}`;
    return { id: file.id, name: file.name, title: file.title, mimetype: file.mimetype, size: file.bytes.length, user: file.user, url_private: url, url_private_download: `${url}?download=1`, shares: { public: file.shares } };
  }

  private tokenKind(header: string | undefined): WebApiCall["token"] {
    const token = header?.replace(/^Bearer /, "");
    if (token === undefined || this.revoked.has(token)) return "other";
    return this.botTokens.has(token) ? "bot" : this.userTokens.has(token) ? "user" : token === this.tokens.app ? "app" : "other";
  }

  private async http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? "").replace(/\?.*$/, "");
    if (req.method === "GET" && path.startsWith("/avatars/")) {
      res.writeHead(200, { "content-type": "image/png" });
      return void res.end(Buffer.from(`avatar of ${path.slice(9)}`));
    }
    if (req.method === "GET" && path.startsWith("/emoji/")) {
      res.writeHead(200, { "content-type": "image/png" });
      return void res.end(this.emojiImage(path.slice(7)));
    }
    if (req.method === "GET" && path.startsWith("/files-pri/")) {
      const id = /^\/files-pri\/[A-Z0-9]+-([A-Z0-9]+)\//.exec(path)?.[1] ?? "";
      const file = this.files.get(id);
      // Slack answers a download without the token with its sign-in page, not the file.
      if (!file || this.tokenKind(req.headers.authorization) !== "bot") {
        res.writeHead(file ? 302 : 404, { location: "https://slack.com/signin" });
        return void res.end();
      }
      res.writeHead(200, { "content-type": file.mimetype, "content-length": String(file.bytes.length) });
      return void res.end(file.bytes);
    }
    if (req.method === "GET" && path === "/oauth/v2/authorize") {
      // The person approves at once: back to the app's redirect URL with a code and the app's state.
      const query = Object.fromEntries(new URL(req.url ?? "", this.origin).searchParams);
      this.authorizations.push(query);
      const code = randomUUID();
      this.codes.add(code);
      const back = new URL(query["redirect_uri"] ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", query["state"] ?? "");
      res.writeHead(302, { location: back.toString() });
      return void res.end();
    }
    if (req.method === "POST" && path.startsWith("/upload/")) {
      const file = this.files.get(path.slice(8));
      if (!file) return void res.writeHead(404).end();
      file.bytes = raw;
      res.writeHead(200, { "content-type": "text/plain" });
      return void res.end(`OK - ${raw.length}`);
    }
    const method = path.replace(/^\/api\//, "");
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST") return reply(405, { ok: false, error: "method_not_allowed" });
    const contentType = req.headers["content-type"] ?? "";
    const text = raw.toString("utf8");
    const args: Record<string, unknown> = contentType.startsWith("application/json") ? (JSON.parse(text) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(text));
    const token = this.tokenKind(req.headers.authorization);
    this.webApiCalls.push({ method, token, bearer: req.headers.authorization?.replace(/^Bearer /, "") ?? "", args });
    if (method === "oauth.v2.access") return this.oauthAccess(args, reply);
    const revoked = this.revoked.has(req.headers.authorization?.replace(/^Bearer /, "") ?? "");
    if (token === "other") return reply(200, { ok: false, error: revoked ? "token_revoked" : "invalid_auth" });
    if ((method === "apps.connections.open") !== (token === "app")) return reply(200, { ok: false, error: "not_allowed_token_type" });
    await this.method(method, args, token, reply);
  }

  /** oauth.v2.access: the app's credentials and a fresh code give a new bot token and the person's user token. */
  private oauthAccess(args: Record<string, unknown>, reply: (status: number, body: unknown) => void): void {
    if (args["client_id"] !== this.oauth.clientId || args["client_secret"] !== this.oauth.clientSecret) return reply(200, { ok: false, error: "invalid_client_id" });
    if (typeof args["code"] !== "string" || !this.codes.delete(args["code"])) return reply(200, { ok: false, error: "invalid_code" });
    const n = this.botTokens.size + this.userTokens.size;
    const bot = `xoxb-oauth-${n}`;
    const user = `xoxp-oauth-${n}`;
    this.botTokens.add(bot);
    this.userTokens.add(user);
    reply(200, {
      ok: true,
      access_token: bot,
      token_type: "bot",
      scope: "chat:write",
      bot_user_id: this.bot.userId,
      app_id: this.bot.appId,
      team: { id: this.teamId, name: this.teamName },
      enterprise: null,
      authed_user: { id: this.person.userId, scope: "chat:write", access_token: user, token_type: "user" },
    });
  }

  private async method(method: string, args: Record<string, unknown>, token: WebApiCall["token"], reply: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const str = (name: string) => (typeof args[name] === "string" ? (args[name] as string) : "");
    const actor = token === "user" ? this.person.userId : this.bot.userId;
    switch (method) {
      case "auth.test":
        return reply(200, { ok: true, url: "https://test.slack.com/", team: this.teamName, user: "inbox-bridge", team_id: this.teamId, user_id: actor, ...(token === "bot" ? { bot_id: this.bot.botId } : {}) });
      case "apps.connections.open": {
        const ticket = randomUUID();
        this.socketTickets.add(ticket);
        return reply(200, { ok: true, url: `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/link/?ticket=${ticket}&app_id=${this.bot.appId}` });
      }
      case "users.info": {
        const user = this.users.get(str("user"));
        return user ? reply(200, { ok: true, user: { team_id: this.teamId, deleted: false, is_bot: false, ...user } }) : reply(200, { ok: false, error: "user_not_found" });
      }
      case "team.info":
        return reply(200, { ok: true, team: { id: this.teamId, name: this.teamName, domain: "test", icon: { image_132: `${this.origin}/avatars/team.png`, image_default: false } } });
      case "conversations.info": {
        const channel = this.channels.get(str("channel"));
        return channel
          ? reply(200, { ok: true, channel: { is_channel: !channel.is_im, is_im: false, is_private: false, created: 1700000000, ...channel } })
          : reply(200, { ok: false, error: "channel_not_found" });
      }
      case "conversations.history":
      case "conversations.replies": {
        const channel = str("channel");
        if (!this.channels.has(channel)) return reply(200, { ok: false, error: "channel_not_found" });
        const all = this.history.get(channel) ?? [];
        const oldest = str("oldest");
        const after = (m: StoredMessage) => oldest === "" || BigInt(m.ts.replace(".", "")) > BigInt(oldest.replace(".", ""));
        // History: top-level messages (and replies also sent to the channel), newest first; replies: the thread,
        // oldest first (the root always first, whatever `oldest` says). A thread's parent carries its reply count and newest reply, as Slack's do.
        const list = (
          method === "conversations.history"
            ? all.filter((m) => (m.thread_ts === undefined || m.thread_ts === m.ts || m.subtype === "thread_broadcast") && after(m)).reverse()
            : all.filter((m) => m.ts === str("ts") || (m.thread_ts === str("ts") && after(m)))
        ).map((m) => this.withThread(all, m));
        const limit = Math.min(Number(args["limit"] ?? 100) || 100, 999);
        const start = Number(str("cursor") || "0");
        const page = list.slice(start, start + limit);
        const more = start + limit < list.length;
        return reply(200, { ok: true, messages: page, has_more: more, response_metadata: { next_cursor: more ? String(start + limit) : "" } });
      }
      case "emoji.list":
        return reply(200, { ok: true, emoji: Object.fromEntries(this.emoji), cache_ts: "1700000000.000000" });
      case "conversations.mark":
        return reply(200, { ok: true });
      case "chat.postMessage": {
        const channel = str("channel");
        if (!this.channels.has(channel)) return reply(200, { ok: false, error: "channel_not_found" });
        if (this.rateLimitNext > 0) {
          this.rateLimitNext--;
          this.rateLimited++;
          return reply(429, { ok: false, error: "ratelimited" }, { "retry-after": "1" });
        }
        const ts = this.ts();
        const message: StoredMessage = { type: "message", user: actor, text: str("text"), ts, ...(token === "bot" ? { bot_id: this.bot.botId } : {}) };
        if (str("thread_ts") !== "") message.thread_ts = str("thread_ts");
        this.posted.push({ channel, text: message.text, ts, token, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}), ...(str("username") ? { username: str("username") } : {}), at: performance.now() });
        this.store(channel, message);
        await this.send(this.envelope({ ...message, channel, event_ts: ts, channel_type: "channel", team: this.teamId }));
        return reply(200, { ok: true, channel, ts, message });
      }
      case "chat.update": {
        const channel = str("channel");
        const message = this.find(channel, str("ts"));
        if (!message) return reply(200, { ok: false, error: "message_not_found" });
        if (message.user !== actor) return reply(200, { ok: false, error: "cant_update_message" });
        await this.send(this.editMessage(channel, message.ts, str("text")));
        return reply(200, { ok: true, channel, ts: message.ts, text: message.text });
      }
      case "chat.delete": {
        const channel = str("channel");
        const message = this.find(channel, str("ts"));
        if (!message) return reply(200, { ok: false, error: "message_not_found" });
        if (message.user !== actor) return reply(200, { ok: false, error: "cant_delete_message" });
        await this.send(this.deleteMessage(channel, message.ts));
        return reply(200, { ok: true, channel, ts: message.ts });
      }
      case "reactions.add":
      case "reactions.remove": {
        const channel = str("channel");
        if (!this.find(channel, str("timestamp"))) return reply(200, { ok: false, error: "message_not_found" });
        await this.send(this.reaction(method === "reactions.add" ? "reaction_added" : "reaction_removed", channel, str("timestamp"), actor, str("name")));
        return reply(200, { ok: true });
      }
      case "files.getUploadURLExternal": {
        const file = this.storeFile(actor, str("filename"), str("filename"), "application/octet-stream", Buffer.alloc(0));
        file.bytes = Buffer.alloc(Number(str("length")));
        return reply(200, { ok: true, upload_url: `${this.origin}/upload/${file.id}`, file_id: file.id });
      }
      case "files.completeUploadExternal": {
        const channel = str("channel_id");
        const entries = (args["files"] as { id: string; title?: string }[] | undefined) ?? [];
        const files = entries.map((e) => this.files.get(e.id)).filter((f): f is StoredFile => f !== undefined);
        if (files.length === 0 || !this.channels.has(channel)) return reply(200, { ok: false, error: "invalid_arguments" });
        const ts = this.ts();
        for (const [i, file] of files.entries()) {
          file.title = entries[i]?.title ?? file.name;
          file.shares[channel] = [{ ts }];
        }
        const message: StoredMessage = { type: "message", subtype: "file_share", user: actor, text: "", ts, files: files.map((f) => this.fileObject(f)) };
        if (str("thread_ts") !== "") message.thread_ts = str("thread_ts");
        this.store(channel, message);
        await this.send(this.envelope({ ...message, channel, event_ts: ts, channel_type: "channel", team: this.teamId }));
        return reply(200, { ok: true, files: files.map((f) => ({ id: f.id, title: f.title })) });
      }
      case "files.info": {
        const file = this.files.get(str("file"));
        return file ? reply(200, { ok: true, file: this.fileObject(file) }) : reply(200, { ok: false, error: "file_not_found" });
      }
      default:
        return reply(200, { ok: false, error: "unknown_method" });
    }
  }
}
