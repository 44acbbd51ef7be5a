import { z } from "zod";
import { readCapped } from "../download";

/** Sends one request to the homeserver: the Worker's own fetch handler (no network hop) or a real fetch. */
export type HomeserverFetch = (request: Request) => Promise<Response>;

export class MatrixApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

const ErrorBody = z.object({ errcode: z.string(), error: z.string().optional() });
const EventIdBody = z.object({ event_id: z.string() });
const RoomIdBody = z.object({ room_id: z.string() });

/** A Matrix error answer as a MatrixApiError naming the request. */
async function apiError(res: Response, request: string): Promise<MatrixApiError> {
  const err = ErrorBody.safeParse(await res.json().catch(() => ({})));
  const errcode = err.success ? err.data.errcode : "M_UNKNOWN";
  return new MatrixApiError(res.status, errcode, `${request}: ${res.status} ${errcode} ${err.success ? (err.data.error ?? "") : ""}`.trimEnd());
}

/**
 * The appservice's hands on Matrix: Client-Server API calls with the as_token, acting as the bot or, with
 * `?user_id=`, as a ghost (Application Service API, "Identity assertion"). Exactly what an external bridge sends.
 */
export class MatrixIntent {
  constructor(
    private readonly hs: HomeserverFetch,
    private readonly baseUrl: string,
    private readonly asToken: string,
  ) {}

  private async call<T>(
    method: string,
    path: string,
    opts: { asUser?: string; query?: Record<string, string>; body?: unknown; schema: z.ZodType<T> },
  ): Promise<T> {
    const url = new URL(path, this.baseUrl);
    if (opts.asUser !== undefined) url.searchParams.set("user_id", opts.asUser);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { authorization: `Bearer ${this.asToken}` };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await this.hs(new Request(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) }));
    if (!res.ok) throw await apiError(res, `${method} ${path}`);
    return opts.schema.parse(await res.json().catch(() => ({})));
  }

  /** Registers an appservice user (`m.login.application_service`); an existing one is fine. */
  async ensureRegistered(localpart: string): Promise<void> {
    try {
      await this.call("POST", "/_matrix/client/v3/register", {
        body: { type: "m.login.application_service", username: localpart, inhibit_login: true },
        schema: z.object({ user_id: z.string() }),
      });
    } catch (err) {
      if (!(err instanceof MatrixApiError && err.errcode === "M_USER_IN_USE")) throw err;
    }
  }

  /** The user's global profile (GET /profile/{userId}); fields they have not set, or no profile at all: absent. */
  async getProfile(userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
    try {
      return await this.call("GET", `/_matrix/client/v3/profile/${encodeURIComponent(userId)}`, {
        schema: z.object({ displayname: z.string().optional(), avatar_url: z.string().optional() }),
      });
    } catch (err) {
      if (err instanceof MatrixApiError && err.errcode === "M_NOT_FOUND") return {};
      throw err;
    }
  }

  async setDisplayName(userId: string, displayname: string): Promise<void> {
    await this.call("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(userId)}/displayname`, {
      asUser: userId,
      body: { displayname },
      schema: z.object({}),
    });
  }

  async createRoom(asUser: string, body: Record<string, unknown>): Promise<string> {
    return (await this.call("POST", "/_matrix/client/v3/createRoom", { asUser, body, schema: RoomIdBody })).room_id;
  }

  async invite(asUser: string, roomId: string, userId: string): Promise<void> {
    await this.call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { asUser, body: { user_id: userId }, schema: z.object({}) });
  }

  async join(asUser: string, roomId: string): Promise<void> {
    await this.call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { asUser, body: {}, schema: RoomIdBody });
  }

  async leave(asUser: string, roomId: string): Promise<void> {
    await this.call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { asUser, body: {}, schema: z.object({}) });
  }

  /** Sends a room event as `asUser`, with origin_server_ts massaged to `ts` (the remote message's time). */
  async sendMessage(asUser: string, roomId: string, content: object, ts: number, txnId: string): Promise<string> {
    return this.sendEvent(asUser, roomId, "m.room.message", content, ts, txnId);
  }

  async sendEvent(asUser: string, roomId: string, type: string, content: object, ts: number, txnId: string): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`;
    return (await this.call("PUT", path, { asUser, query: { ts: String(ts) }, body: content, schema: EventIdBody })).event_id;
  }

  /** POST /_matrix/media/v3/upload as `asUser`: the file's mxc:// URI. */
  async upload(asUser: string, bytes: ArrayBuffer, contentType: string, filename: string): Promise<string> {
    const url = new URL("/_matrix/media/v3/upload", this.baseUrl);
    url.searchParams.set("user_id", asUser);
    url.searchParams.set("filename", filename);
    const res = await this.hs(
      new Request(url, { method: "POST", headers: { authorization: `Bearer ${this.asToken}`, "content-type": contentType }, body: bytes }),
    );
    if (!res.ok) throw await apiError(res, "POST /_matrix/media/v3/upload");
    return z.object({ content_uri: z.string().startsWith("mxc://") }).parse(await res.json()).content_uri;
  }

  /**
   * GET /_matrix/client/v1/media/download/{serverName}/{mediaId} as the bot (authenticated media): the bytes,
   * refused with a TooLargeError past `maxBytes`.
   */
  async download(mxc: string, maxBytes: number): Promise<{ bytes: ArrayBuffer; contentType: string | null }> {
    const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(mxc);
    if (!m) throw new Error(`Not an mxc:// URI: ${mxc}`);
    const path = `/_matrix/client/v1/media/download/${encodeURIComponent(m[1]!)}/${encodeURIComponent(m[2]!)}`;
    const res = await this.hs(new Request(new URL(path, this.baseUrl), { headers: { authorization: `Bearer ${this.asToken}` } }));
    if (!res.ok) throw await apiError(res, `GET ${path}`);
    return { bytes: await readCapped(res, maxBytes), contentType: res.headers.get("content-type") };
  }

  async setAvatarUrl(userId: string, avatarUrl: string): Promise<void> {
    await this.call("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(userId)}/avatar_url`, {
      asUser: userId,
      body: { avatar_url: avatarUrl },
      schema: z.object({}),
    });
  }

  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} as `asUser`. */
  async setState(asUser: string, roomId: string, type: string, stateKey: string, content: object): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`;
    return (await this.call("PUT", path, { asUser, body: content, schema: EventIdBody })).event_id;
  }

  async redact(asUser: string, roomId: string, eventId: string, txnId: string): Promise<string> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(eventId)}/${encodeURIComponent(txnId)}`;
    return (await this.call("PUT", path, { asUser, body: {}, schema: EventIdBody })).event_id;
  }

  async setTyping(asUser: string, roomId: string, typing: boolean, timeoutMs: number): Promise<void> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(asUser)}`;
    await this.call("PUT", path, { asUser, body: typing ? { typing, timeout: timeoutMs } : { typing }, schema: z.object({}) });
  }
}
