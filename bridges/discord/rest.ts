import type { RESTPatchAPIChannelMessageJSONBody, RESTPostAPIChannelMessageJSONBody } from "discord-api-types/v10";
import { z } from "zod";

/** What we read of Discord's REST answers (zod: a payload from the network is checked before use). */
export const ApiUser = z.object({
  id: z.string(),
  username: z.string(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
});
export const ApiChannel = z.object({
  id: z.string(),
  type: z.number().int(),
  guild_id: z.string().optional(),
  name: z.string().nullish(),
  topic: z.string().nullish(),
  recipients: z.array(ApiUser).optional(),
});
export const ApiMessage = z.object({ id: z.string(), channel_id: z.string(), timestamp: z.string() });
/** 204 No Content: nothing to read. */
const NoContent = z.unknown();
const GatewayBot = z.object({ url: z.string() });
const RateLimited = z.object({ retry_after: z.number().nonnegative() });

export type ApiChannel = z.infer<typeof ApiChannel>;

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Attempts per request when Discord answers 429; each waits the retry_after Discord asked for. */
const MAX_ATTEMPTS = 5;
/** Longest 429 wait we sit through inside one request; longer ones fail the request. */
const MAX_RETRY_AFTER_MS = 60_000;

export interface DiscordRestOptions {
  baseUrl: string;
  botToken: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** The Discord REST calls the bridge makes, with the bot token; 429 answers are waited out and retried. */
export class DiscordRest {
  private readonly fetcher: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: DiscordRestOptions) {
    this.fetcher = opts.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private async request<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = {
        authorization: `Bot ${this.opts.botToken}`,
        "user-agent": "DiscordBot (https://github.com/workers-matrix-inbox, 0.1)",
      };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await this.fetcher(`${this.opts.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const json: unknown = await res.json().catch(() => null);
      if (res.status === 429) {
        const limited = RateLimited.safeParse(json);
        const waitMs = Math.ceil((limited.success ? limited.data.retry_after : Number(res.headers.get("retry-after") ?? "1")) * 1000);
        if (attempt >= MAX_ATTEMPTS || waitMs > MAX_RETRY_AFTER_MS) throw new DiscordApiError(429, `${method} ${path}: rate limited for ${waitMs} ms`);
        await this.sleep(waitMs);
        continue;
      }
      if (!res.ok) throw new DiscordApiError(res.status, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return schema.parse(json);
    }
  }

  /** GET /gateway/bot: where the gateway is. */
  async gatewayUrl(): Promise<string> {
    return (await this.request("GET", "/gateway/bot", GatewayBot)).url;
  }

  /** GET /users/@me: the bot's own user (its id tells our messages' echoes apart). */
  currentUser(): Promise<z.infer<typeof ApiUser>> {
    return this.request("GET", "/users/@me", ApiUser);
  }

  /** GET /channels/{channel.id} */
  channel(channelId: string): Promise<ApiChannel> {
    return this.request("GET", `/channels/${encodeURIComponent(channelId)}`, ApiChannel);
  }

  /** PATCH /channels/{channel.id}/messages/{message.id}: only the bot's own messages. */
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

  /** POST /channels/{channel.id}/messages */
  createMessage(channelId: string, body: RESTPostAPIChannelMessageJSONBody): Promise<z.infer<typeof ApiMessage>> {
    return this.request("POST", `/channels/${encodeURIComponent(channelId)}/messages`, ApiMessage, body);
  }
}
