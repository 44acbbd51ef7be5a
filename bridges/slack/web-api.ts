import type { z } from "zod";
import {
  ApiError,
  AuthTest,
  ConnectionsOpen,
  ConversationsInfo,
  EmojiList,
  FilesInfo,
  MessagePage,
  OAuthAccess,
  Ok,
  PostMessage,
  type SlackFileInfo,
  TeamInfo,
  UploadUrl,
  UsersInfo,
} from "./payloads";

export class SlackApiError extends Error {
  constructor(
    readonly status: number,
    /** Slack's `error` code (`channel_not_found`, `ratelimited`, `invalid_auth` ...). */
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** Attempts per call when Slack answers 429; each waits the Retry-After Slack asked for. */
const MAX_ATTEMPTS = 5;
/** Longest 429 wait sat through inside one call; longer ones fail the call. */
const MAX_RETRY_AFTER_MS = 60_000;

export interface SlackWebApiOptions {
  baseUrl: string;
  /** The bearer token; "" for oauth.v2.access, which authenticates the app by its credentials. */
  token: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Called (then the call fails) when Slack says the token is no good: `invalid_auth`, `token_revoked` ... */
  onAuthError?: (error: string) => void | Promise<void>;
}

/** Errors that mean the token itself is dead: only a new install helps. */
export const AUTH_ERRORS = new Set(["invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"]);

/**
 * The Slack Web API methods the bridge calls, as a tiny fetch client (workerd runs no Node HTTP receiver):
 * reads are form-encoded, writes JSON, both with the bearer token; `ok: false` answers become SlackApiErrors and
 * 429 answers are waited out for their `Retry-After` seconds, then retried.
 */
export class SlackWebApi {
  private readonly fetcher: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: SlackWebApiOptions) {
    this.fetcher = opts.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private async call<T>(method: string, schema: z.ZodType<T>, args: Record<string, unknown>, json = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.fetcher(`${this.opts.baseUrl}/${method}`, {
        method: "POST",
        headers: {
          ...(this.opts.token !== "" ? { authorization: `Bearer ${this.opts.token}` } : {}),
          "content-type": json ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded",
        },
        body: json ? JSON.stringify(args) : new URLSearchParams(Object.entries(args).map(([k, v]) => [k, String(v)])).toString(),
      });
      if (res.status === 429) {
        const waitMs = Math.ceil(Number(res.headers.get("retry-after") ?? "1") * 1000);
        if (attempt >= MAX_ATTEMPTS || !(waitMs <= MAX_RETRY_AFTER_MS)) throw new SlackApiError(429, "ratelimited", `${method}: rate limited for ${waitMs} ms`);
        await this.sleep(waitMs);
        continue;
      }
      const body: unknown = await res.json().catch(() => null);
      const failed = ApiError.safeParse(body);
      if (!res.ok || failed.success) {
        const error = failed.success ? failed.data.error : `http_${res.status}`;
        if (AUTH_ERRORS.has(error)) await this.opts.onAuthError?.(error);
        throw new SlackApiError(res.status, error, `${method}: ${error}`);
      }
      return schema.parse(body);
    }
  }

  /** oauth.v2.access (a client without a token: the app's credentials are in the body): an install's tokens. */
  oauthAccess(clientId: string, clientSecret: string, code: string, redirectUri: string): Promise<OAuthAccess> {
    return this.call("oauth.v2.access", OAuthAccess, { client_id: clientId, client_secret: clientSecret, code, redirect_uri: redirectUri });
  }

  /** auth.test: who the token is (the bot's user id and bot id, its workspace). */
  authTest(): Promise<AuthTest> {
    return this.call("auth.test", AuthTest, {});
  }

  async usersInfo(user: string): Promise<z.infer<typeof UsersInfo>["user"]> {
    return (await this.call("users.info", UsersInfo, { user })).user;
  }

  async conversationsInfo(channel: string): Promise<z.infer<typeof ConversationsInfo>["channel"]> {
    return (await this.call("conversations.info", ConversationsInfo, { channel })).channel;
  }

  /** chat.postMessage: returns the new message's ts (its id in the channel). */
  async postMessage(channel: string, text: string, opts: { threadTs?: string; username?: string; iconUrl?: string } = {}): Promise<string> {
    const args: Record<string, unknown> = { channel, text };
    if (opts.threadTs !== undefined) args["thread_ts"] = opts.threadTs;
    if (opts.username !== undefined) args["username"] = opts.username;
    if (opts.iconUrl !== undefined) args["icon_url"] = opts.iconUrl;
    return (await this.call("chat.postMessage", PostMessage, args, true)).ts;
  }

  async updateMessage(channel: string, ts: string, text: string): Promise<void> {
    await this.call("chat.update", Ok, { channel, ts, text }, true);
  }

  async deleteMessage(channel: string, ts: string): Promise<void> {
    await this.call("chat.delete", Ok, { channel, ts }, true);
  }

  async addReaction(channel: string, timestamp: string, name: string): Promise<void> {
    await this.call("reactions.add", Ok, { channel, timestamp, name }, true);
  }

  async removeReaction(channel: string, timestamp: string, name: string): Promise<void> {
    await this.call("reactions.remove", Ok, { channel, timestamp, name }, true);
  }

  /** conversations.mark: the token's read marker in a conversation. */
  async markRead(channel: string, ts: string): Promise<void> {
    await this.call("conversations.mark", Ok, { channel, ts });
  }

  async teamInfo(): Promise<z.infer<typeof TeamInfo>["team"]> {
    return (await this.call("team.info", TeamInfo, {})).team;
  }

  /** emoji.list: the workspace's custom emoji, name -> image URL (or `alias:other`). */
  async emojiList(): Promise<Record<string, string>> {
    return (await this.call("emoji.list", EmojiList, {})).emoji;
  }

  /** One page of conversations.history (newest first) or, with `threadTs`, conversations.replies (oldest first). */
  async messagePage(channel: string, opts: { oldest?: string; threadTs?: string; cursor?: string; limit: number }): Promise<z.infer<typeof MessagePage>> {
    const args: Record<string, unknown> = { channel, limit: opts.limit };
    if (opts.oldest !== undefined) args["oldest"] = opts.oldest;
    if (opts.cursor !== undefined) args["cursor"] = opts.cursor;
    if (opts.threadTs !== undefined) args["ts"] = opts.threadTs;
    return this.call(opts.threadTs === undefined ? "conversations.history" : "conversations.replies", MessagePage, args);
  }

  /** apps.connections.open (app-level token): a Socket Mode WebSocket URL, good for one connection. */
  async openConnection(): Promise<string> {
    return (await this.call("apps.connections.open", ConnectionsOpen, {})).url;
  }

  /**
   * Uploads a file with the external upload flow (files.getUploadURLExternal, the bytes POSTed to the upload URL,
   * files.completeUploadExternal sharing it in the channel / thread); returns the file id.
   */
  async uploadFile(channel: string, file: { filename: string; bytes: ArrayBuffer; title: string; threadTs?: string }): Promise<string> {
    const { upload_url: uploadUrl, file_id: fileId } = await this.call("files.getUploadURLExternal", UploadUrl, { filename: file.filename, length: file.bytes.byteLength });
    const res = await this.fetcher(uploadUrl, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: file.bytes });
    await res.arrayBuffer();
    if (!res.ok) throw new SlackApiError(res.status, `http_${res.status}`, `upload to ${new URL(uploadUrl).host}: ${res.status}`);
    const args: Record<string, unknown> = { files: [{ id: fileId, title: file.title }], channel_id: channel };
    if (file.threadTs !== undefined) args["thread_ts"] = file.threadTs;
    await this.call("files.completeUploadExternal", Ok, args, true);
    return fileId;
  }

  async filesInfo(file: string): Promise<SlackFileInfo> {
    return (await this.call("files.info", FilesInfo, { file })).file;
  }

  /** A file's `url_private`, downloaded with the token (Slack refuses it without). */
  async download(url: string): Promise<Response> {
    return this.fetcher(url, { headers: { authorization: `Bearer ${this.opts.token}` } });
  }
}
