import type {
  RESTPatchAPIChannelMessageJSONBody,
  RESTPatchAPIWebhookWithTokenMessageJSONBody,
  RESTPostAPIChannelMessageJSONBody,
  RESTPostAPIWebhookWithTokenJSONBody,
} from "discord-api-types/v10";
import { z } from "zod";
import { Channel, MessageCreate } from "./gateway/payloads";

/** What we read of Discord's REST answers (zod: a payload from the network is checked before use). */
export const ApiUser = z.object({
  id: z.string(),
  username: z.string(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
  avatar: z.string().nullish(),
});
/** A channel as REST answers it: the gateway's fields, and a DM's recipients. */
export const ApiChannel = Channel.extend({ recipients: z.array(ApiUser).optional() });
export const ApiGuild = z.object({ id: z.string(), name: z.string(), icon: z.string().nullish() });
export const ApiMessage = z.object({ id: z.string(), channel_id: z.string(), timestamp: z.string() });
/** A webhook (Discord's "Webhook Object"): the token only on incoming webhooks the bot can manage. */
export const ApiWebhook = z.object({
  id: z.string(),
  type: z.number().int(),
  token: z.string().optional(),
  name: z.string().nullish(),
  channel_id: z.string().nullish(),
  guild_id: z.string().nullish(),
  application_id: z.string().nullish(),
  /** Who made it. */
  user: z.object({ id: z.string() }).nullish(),
});
/** 204 No Content: nothing to read. */
const NoContent = z.unknown();
/**
 * GET /gateway/bot: where to connect, and how many IDENTIFYs are left today (session_start_limit). A user login
 * reads GET /gateway instead, which answers the url only.
 */
const GatewayBot = z.object({
  url: z.string(),
  session_start_limit: z.object({ remaining: z.number().int(), reset_after: z.number().nonnegative() }).optional(),
});
const RateLimited = z.object({ retry_after: z.number().nonnegative() });

export type ApiUser = z.infer<typeof ApiUser>;
export type ApiChannel = z.infer<typeof ApiChannel>;
export type ApiGuild = z.infer<typeof ApiGuild>;
export type GatewayBot = z.infer<typeof GatewayBot>;
export type ApiWebhook = z.infer<typeof ApiWebhook>;

/** An incoming webhook the bridge posts through: its id and token (the token is its credential). */
export interface WebhookCredentials {
  id: string;
  token: string;
}

/** A file sent with a message (multipart `files[n]`). */
export interface UploadFile {
  filename: string;
  contentType: string;
  bytes: ArrayBuffer;
}

/** GET /channels/{id}/messages/pins: a page of pins, newest first. */
const PinsPage = z.object({ items: z.array(z.object({ pinned_at: z.string(), message: z.object({ id: z.string() }) })), has_more: z.boolean() });
/** Largest page of GET /channels/{id}/messages/pins; pins read at most (Discord allows 250 per channel). */
const PINS_PAGE_LIMIT = 50;
const PINS_MAX = 250;

/** Largest page of GET /channels/{id}/messages. */
export const MESSAGES_PAGE_LIMIT = 100;

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Discord's JSON error code (e.g. 50013 Missing Permissions, 10015 Unknown Webhook), when it gave one. */
    readonly code?: number,
  ) {
    super(message);
  }
}

/** Discord's JSON error code: 50013, the bot lacks a permission (e.g. MANAGE_WEBHOOKS). */
export const MISSING_PERMISSIONS = 50013;
/** Discord's JSON error code: 10015, the webhook is gone (deleted on Discord). */
export const UNKNOWN_WEBHOOK = 10015;
const ErrorCode = z.object({ code: z.number().int() });

/** Attempts per request when Discord answers 429; each waits the retry_after Discord asked for. */
const MAX_ATTEMPTS = 5;
/** Longest 429 wait we sit through inside one request; longer ones fail the request. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Which kind of Discord account a token logs in: the bridge's bot (`Authorization: Bot <token>`), or, opt-in, the
 * person's own user account (`Authorization: <token>`, what Discord's own clients send).
 */
export type LoginKind = "bot" | "user";
export interface DiscordLogin {
  token: string;
  kind: LoginKind;
}

/** The User-Agent of a bot library, as Discord asks bots to send. */
const BOT_USER_AGENT = "DiscordBot (https://github.com/workers-matrix-inbox, 0.1)";
/** A user login's User-Agent: a desktop browser's, as Discord's web client sends it (also in IDENTIFY's properties). */
export const USER_CLIENT_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

export interface DiscordRestOptions {
  baseUrl: string;
  token: string;
  /** Default "bot". */
  kind?: LoginKind;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** The Discord REST calls the bridge makes, with the login's token; 429 answers are waited out and retried. */
export class DiscordRest {
  private readonly fetcher: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: DiscordRestOptions) {
    this.fetcher = opts.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Whose token this client sends: the bot's, or the person's own user account's. */
  get kind(): LoginKind {
    return this.opts.kind ?? "bot";
  }

  private async request<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const user = this.kind === "user";
      const headers: Record<string, string> = {
        authorization: user ? this.opts.token : `Bot ${this.opts.token}`,
        "user-agent": user ? USER_CLIENT_USER_AGENT : BOT_USER_AGENT,
      };
      // FormData (a message with files) sets its own multipart content type.
      const multipart = body instanceof FormData;
      if (body !== undefined && !multipart) headers["content-type"] = "application/json";
      const payload = body === undefined ? undefined : multipart ? body : JSON.stringify(body);
      const res = await this.fetcher(`${this.opts.baseUrl}${path}`, { method, headers, body: payload });
      const json: unknown = await res.json().catch(() => null);
      if (res.status === 429) {
        const limited = RateLimited.safeParse(json);
        const waitMs = Math.ceil((limited.success ? limited.data.retry_after : Number(res.headers.get("retry-after") ?? "1")) * 1000);
        if (attempt >= MAX_ATTEMPTS || waitMs > MAX_RETRY_AFTER_MS) throw new DiscordApiError(429, `${method} ${path}: rate limited for ${waitMs} ms`);
        await this.sleep(waitMs);
        continue;
      }
      if (!res.ok) {
        const code = ErrorCode.safeParse(json);
        throw new DiscordApiError(res.status, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`, code.success ? code.data.code : undefined);
      }
      return schema.parse(json);
    }
  }

  /**
   * Where the gateway is: GET /gateway/bot for a bot, with the day's identify budget; GET /gateway for a user login
   * (/gateway/bot refuses users), which has no session_start_limit.
   */
  gateway(): Promise<GatewayBot> {
    return this.request("GET", this.kind === "user" ? "/gateway" : "/gateway/bot", GatewayBot);
  }

  /** GET /users/@me: the logged-in account (`bot: true` for a bot); its id tells our messages' echoes apart. */
  currentUser(): Promise<z.infer<typeof ApiUser>> {
    return this.request("GET", "/users/@me", ApiUser);
  }

  /** GET /users/@me/guilds: the servers the bot is in. */
  guilds(): Promise<ApiGuild[]> {
    return this.request("GET", "/users/@me/guilds", z.array(ApiGuild));
  }

  /** GET /guilds/{guild.id} */
  guild(guildId: string): Promise<ApiGuild> {
    return this.request("GET", `/guilds/${encodeURIComponent(guildId)}`, ApiGuild);
  }

  /** GET /guilds/{guild.id}/channels (categories included, threads not). */
  guildChannels(guildId: string): Promise<ApiChannel[]> {
    return this.request("GET", `/guilds/${encodeURIComponent(guildId)}/channels`, z.array(ApiChannel));
  }

  /** GET /channels/{channel.id} */
  channel(channelId: string): Promise<ApiChannel> {
    return this.request("GET", `/channels/${encodeURIComponent(channelId)}`, ApiChannel);
  }

  /** GET /channels/{channel.id}/messages: newest first, as Discord answers; `after` / `before` page from a message. */
  messages(channelId: string, query: { after?: string; before?: string; limit: number }): Promise<MessageCreate[]> {
    const params = new URLSearchParams({ limit: String(Math.min(query.limit, MESSAGES_PAGE_LIMIT)) });
    if (query.after !== undefined) params.set("after", query.after);
    if (query.before !== undefined) params.set("before", query.before);
    return this.request("GET", `/channels/${encodeURIComponent(channelId)}/messages?${params}`, z.array(MessageCreate));
  }

  /**
   * GET /channels/{channel.id}/messages/pins, every page (newest pin first, `before` a pin time): the pinned
   * messages' ids, oldest pin first (the order Matrix clients append pins in), at most `max`.
   */
  async pinnedMessageIds(channelId: string, max = PINS_MAX): Promise<string[]> {
    const ids: string[] = [];
    let before: string | undefined;
    while (ids.length < max) {
      const query = new URLSearchParams({ limit: String(PINS_PAGE_LIMIT), ...(before !== undefined ? { before } : {}) });
      const page = await this.request("GET", `/channels/${encodeURIComponent(channelId)}/messages/pins?${query}`, PinsPage);
      ids.push(...page.items.map((pin) => pin.message.id));
      before = page.items.at(-1)?.pinned_at;
      if (!page.has_more || before === undefined) break;
    }
    return ids.slice(0, max).reverse();
  }

  /**
   * POST /channels/{channel.id}/messages/{message.id}/ack with `{"token": null}`: marks the channel read up to the
   * message, as Discord's clients do. User logins only: bots have no read state.
   */
  async ackMessage(channelId: string, messageId: string): Promise<void> {
    await this.request("POST", `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}/ack`, NoContent, { token: null });
  }

  /** POST /channels/{channel.id}/typing: the account shows as typing for about 10 s. */
  async triggerTyping(channelId: string): Promise<void> {
    await this.request("POST", `/channels/${encodeURIComponent(channelId)}/typing`, NoContent);
  }

  /** POST /channels/{channel.id}/messages/{message.id}/threads: a thread on a message (its id is the message's). */
  startThread(channelId: string, messageId: string, name: string): Promise<ApiChannel> {
    return this.request("POST", `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}/threads`, ApiChannel, { name });
  }

  /** PATCH /channels/{channel.id}/messages/{message.id}: only the logged-in account's own messages. */
  editMessage(channelId: string, messageId: string, body: RESTPatchAPIChannelMessageJSONBody): Promise<z.infer<typeof ApiMessage>> {
    return this.request("PATCH", `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}`, ApiMessage, body);
  }

  /** DELETE /channels/{channel.id}/messages/{message.id} */
  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.request("DELETE", `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}`, NoContent);
  }

  /** PUT /channels/{channel.id}/messages/{message.id}/reactions/{emoji}/@me (a unicode emoji, URL-encoded). */
  async addReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    await this.request("PUT", `${this.reactionPath(channelId, messageId, emoji)}/@me`, NoContent);
  }

  /** DELETE /channels/{channel.id}/messages/{message.id}/reactions/{emoji}/@me */
  async removeOwnReaction(channelId: string, messageId: string, emoji: string): Promise<void> {
    await this.request("DELETE", `${this.reactionPath(channelId, messageId, emoji)}/@me`, NoContent);
  }

  private reactionPath(channelId: string, messageId: string, emoji: string): string {
    return `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`;
  }

  /** POST /channels/{channel.id}/messages; with files, multipart (`payload_json` and `files[n]`, Discord's "Uploading Files"). */
  createMessage(channelId: string, body: RESTPostAPIChannelMessageJSONBody, files: UploadFile[] = []): Promise<z.infer<typeof ApiMessage>> {
    return this.request("POST", `/channels/${encodeURIComponent(channelId)}/messages`, ApiMessage, withFiles(body, files));
  }

  /** GET /channels/{channel.id}/messages/{message.id} */
  message(channelId: string, messageId: string): Promise<MessageCreate> {
    return this.request("GET", `/channels/${encodeURIComponent(channelId)}/messages/${encodeURIComponent(messageId)}`, MessageCreate);
  }

  /** GET /channels/{channel.id}/webhooks (needs MANAGE_WEBHOOKS) */
  channelWebhooks(channelId: string): Promise<ApiWebhook[]> {
    return this.request("GET", `/channels/${encodeURIComponent(channelId)}/webhooks`, z.array(ApiWebhook));
  }

  /** POST /channels/{channel.id}/webhooks (needs MANAGE_WEBHOOKS): an incoming webhook, with its token. */
  createWebhook(channelId: string, name: string): Promise<ApiWebhook> {
    return this.request("POST", `/channels/${encodeURIComponent(channelId)}/webhooks`, ApiWebhook, { name });
  }

  /**
   * POST /webhooks/{webhook.id}/{webhook.token}?wait=true (the created message is answered), in a thread of the
   * webhook's channel with `threadId`; files as for createMessage.
   */
  executeWebhook(hook: WebhookCredentials, body: RESTPostAPIWebhookWithTokenJSONBody, files: UploadFile[] = [], threadId?: string): Promise<z.infer<typeof ApiMessage>> {
    const query = new URLSearchParams({ wait: "true", ...(threadId !== undefined ? { thread_id: threadId } : {}) });
    return this.request("POST", `${webhookPath(hook)}?${query}`, ApiMessage, withFiles(body, files));
  }

  /** PATCH /webhooks/{webhook.id}/{webhook.token}/messages/{message.id}: only that webhook's messages. */
  editWebhookMessage(hook: WebhookCredentials, messageId: string, body: RESTPatchAPIWebhookWithTokenMessageJSONBody, threadId?: string): Promise<z.infer<typeof ApiMessage>> {
    return this.request("PATCH", `${webhookPath(hook)}/messages/${encodeURIComponent(messageId)}${threadQuery(threadId)}`, ApiMessage, body);
  }

  /** DELETE /webhooks/{webhook.id}/{webhook.token}/messages/{message.id} */
  async deleteWebhookMessage(hook: WebhookCredentials, messageId: string, threadId?: string): Promise<void> {
    await this.request("DELETE", `${webhookPath(hook)}/messages/${encodeURIComponent(messageId)}${threadQuery(threadId)}`, NoContent);
  }
}

const webhookPath = (hook: WebhookCredentials) => `/webhooks/${encodeURIComponent(hook.id)}/${encodeURIComponent(hook.token)}`;
const threadQuery = (threadId: string | undefined) => (threadId === undefined ? "" : `?${new URLSearchParams({ thread_id: threadId })}`);

/** A message body as JSON, or with files as multipart (`payload_json` and `files[n]`, Discord's "Uploading Files"). */
function withFiles(body: object, files: UploadFile[]): object | FormData {
  if (files.length === 0) return body;
  const form = new FormData();
  form.set("payload_json", JSON.stringify({ ...body, attachments: files.map((f, id) => ({ id, filename: f.filename })) }));
  files.forEach((f, i) => form.set(`files[${i}]`, new File([f.bytes], f.filename, { type: f.contentType })));
  return form;
}
