import { z } from "zod";
import { ApiError, AuthTest, ConversationsInfo, PostMessage, UsersInfo } from "./payloads";

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
  token: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

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

  private async call<T>(method: string, schema: z.ZodType<T>, args: Record<string, string>, json = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.fetcher(`${this.opts.baseUrl}/${method}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          "content-type": json ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded",
        },
        body: json ? JSON.stringify(args) : new URLSearchParams(args).toString(),
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
        throw new SlackApiError(res.status, error, `${method}: ${error}`);
      }
      return schema.parse(body);
    }
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
  async postMessage(channel: string, text: string, threadTs?: string): Promise<string> {
    const args: Record<string, string> = { channel, text };
    if (threadTs !== undefined) args["thread_ts"] = threadTs;
    return (await this.call("chat.postMessage", PostMessage, args, true)).ts;
  }
}
