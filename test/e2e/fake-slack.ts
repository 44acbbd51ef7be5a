import { createHmac } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake Slack on 127.0.0.1 speaking the documented wire protocols, for the bridge's end-to-end tests: the Web API
 * methods the bridge calls (auth.test, users.info, conversations.info, chat.postMessage, with 429 + Retry-After on
 * demand) and the Events API side: signed deliveries (`X-Slack-Signature` v0 HMAC over `v0:{ts}:{body}`) to the
 * bridge's request URL, with retries (`X-Slack-Retry-Num`), forged signatures and stale timestamps on demand.
 * Like Slack, it delivers a `message` event for every message the bot itself posts, so echo suppression is tested.
 */

export interface SlackUser {
  id: string;
  name: string;
  real_name?: string;
  profile?: { display_name?: string; real_name?: string };
}

export interface SlackChannel {
  id: string;
  name: string;
  topic?: { value: string };
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

export class FakeSlack {
  readonly teamId = "T0001";
  readonly bot = { userId: "U0BOT", botId: "B0BOT", appId: "A0APP" };
  readonly users = new Map<string, SlackUser>();
  readonly channels = new Map<string, SlackChannel>();
  /** Every chat.postMessage the bot made (after any 429s). */
  readonly posted: { channel: string; text: string; ts: string; contentType: string }[] = [];
  /** Web API calls by method name. */
  readonly calls: string[] = [];
  /** HTTP statuses the bridge answered each delivery with, in order. */
  readonly deliveryStatuses: number[] = [];
  rateLimited = 0;
  /** The next N chat.postMessage calls answer 429 with Retry-After. */
  rateLimitNext = 0;
  /** The bridge's Events API request URL. */
  eventsUrl = "";

  private nextEvent = 1;
  private lastTs = 0;
  private readonly server: Server;

  constructor(
    private readonly botToken: string,
    private readonly signingSecret: string,
  ) {
    this.server = createServer((req, res) => void this.webApi(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get apiBaseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`;
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

  /** A user's message in a channel, as the `message` event Slack delivers (not yet delivered). */
  userMessage(channel: string, user: string, text: string, extra: Record<string, unknown> = {}): EventEnvelope {
    const ts = this.ts();
    return this.envelope({ type: "message", channel, user, text, ts, event_ts: ts, channel_type: "channel", team: this.teamId, ...extra });
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

  private async webApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    const method = (req.url ?? "").replace(/\?.*$/, "").replace(/^\/api\//, "");
    if (req.method !== "POST") return reply(405, { ok: false, error: "method_not_allowed" });
    this.calls.push(method);
    if (req.headers.authorization !== `Bearer ${this.botToken}`) return reply(200, { ok: false, error: "invalid_auth" });
    const contentType = req.headers["content-type"] ?? "";
    const args: Record<string, unknown> = contentType.startsWith("application/json") ? (JSON.parse(raw) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(raw));
    switch (method) {
      case "auth.test":
        return reply(200, { ok: true, url: "https://test.slack.com/", team: "Test", user: "inbox-bridge", team_id: this.teamId, user_id: this.bot.userId, bot_id: this.bot.botId });
      case "users.info": {
        const user = typeof args["user"] === "string" ? this.users.get(args["user"]) : undefined;
        return user ? reply(200, { ok: true, user: { team_id: this.teamId, deleted: false, is_bot: false, ...user } }) : reply(200, { ok: false, error: "user_not_found" });
      }
      case "conversations.info": {
        const channel = typeof args["channel"] === "string" ? this.channels.get(args["channel"]) : undefined;
        return channel
          ? reply(200, { ok: true, channel: { is_channel: true, is_im: false, is_private: false, created: 1700000000, ...channel } })
          : reply(200, { ok: false, error: "channel_not_found" });
      }
      case "chat.postMessage": {
        const channel = typeof args["channel"] === "string" ? args["channel"] : "";
        if (!this.channels.has(channel)) return reply(200, { ok: false, error: "channel_not_found" });
        if (this.rateLimitNext > 0) {
          this.rateLimitNext--;
          this.rateLimited++;
          return reply(429, { ok: false, error: "ratelimited" }, { "retry-after": "1" });
        }
        const text = typeof args["text"] === "string" ? args["text"] : "";
        const ts = this.ts();
        this.posted.push({ channel, text, ts, contentType });
        const message = { type: "message", user: this.bot.userId, bot_id: this.bot.botId, app_id: this.bot.appId, text, ts, team: this.teamId };
        // Slack may deliver the bot's own message before chat.postMessage has answered: the hardest order for the
        // bridge's echo suppression, so this fake always does that.
        await this.deliver(this.envelope({ ...message, channel, event_ts: ts, channel_type: "channel" }));
        return reply(200, { ok: true, channel, ts, message });
      }
      default:
        return reply(200, { ok: false, error: "unknown_method" });
    }
  }
}
