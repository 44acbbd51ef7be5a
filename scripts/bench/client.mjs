// A minimal Client-Server API client over fetch, shared by the benchmark, load, fault and endurance harnesses.
// Every request goes to the local Worker (127.0.0.1) and carries a timeout, so a stuck server fails a run instead
// of hanging it.

export class MatrixHttpError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} -> ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/** `POST|PUT|GET` with a JSON body; answers the parsed JSON or throws MatrixHttpError. */
export async function call(base, method, path, { token, body, timeoutMs = 60_000 } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    // A success whose body did not arrive whole (e.g. wrangler dev restarting the Worker after the headers were sent)
    // is a lost answer, not an answer: callers retry it as they retry a dropped connection.
    if (res.ok) throw new Error(`${method} ${path} -> ${res.status} with an unreadable body (${text.length} bytes)`);
    json = { raw: text.slice(0, 200) };
  }
  if (!res.ok) throw new MatrixHttpError(method, path, res.status, json);
  return json;
}

let registered = 0;

/** Registers a fresh user (m.login.dummy) and answers a client bound to it. */
export async function registerUser(base, prefix = "u") {
  const username = `${prefix}${Date.now().toString(36)}${registered++}`;
  const res = await call(base, "POST", "/_matrix/client/v3/register", {
    body: { username, password: "harness password", auth: { type: "m.login.dummy" } },
  });
  return new Client(base, { username, userId: res.user_id, token: res.access_token, deviceId: res.device_id });
}

const enc = encodeURIComponent;
let txnCounter = 0;

/** One logged-in device. */
export class Client {
  constructor(base, { username, userId, token, deviceId }) {
    this.base = base;
    this.username = username;
    this.userId = userId;
    this.token = token;
    this.deviceId = deviceId;
  }

  call(method, path, body, opts = {}) {
    return call(this.base, method, path, { token: this.token, body, ...opts });
  }

  async createRoom(body = {}) {
    return (await this.call("POST", "/_matrix/client/v3/createRoom", body)).room_id;
  }

  join(roomId) {
    return this.call("POST", `/_matrix/client/v3/join/${enc(roomId)}`, {});
  }

  /** Sends with a caller-chosen txnId (so a retry after a lost answer is idempotent); answers the event_id. */
  async send(roomId, content, txnId = `t${Date.now().toString(36)}-${txnCounter++}`) {
    return (await this.call("PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${enc(txnId)}`, content)).event_id;
  }

  /** GET /sync; `filter` is an inline filter object. */
  sync({ since, timeout = 0, filter, timeoutMs } = {}) {
    const q = new URLSearchParams({ timeout: String(timeout) });
    if (since) q.set("since", since);
    if (filter) q.set("filter", JSON.stringify(filter));
    return this.call("GET", `/_matrix/client/v3/sync?${q}`, undefined, { timeoutMs: timeoutMs ?? timeout + 30_000 });
  }

  messages(roomId, { from, dir = "f", limit = 500 } = {}) {
    const q = new URLSearchParams({ dir, limit: String(limit) });
    if (from) q.set("from", from);
    return this.call("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`);
  }

  sendToDevice(eventType, messages, txnId = `d${Date.now().toString(36)}-${txnCounter++}`) {
    return this.call("PUT", `/_matrix/client/v3/sendToDevice/${enc(eventType)}/${enc(txnId)}`, { messages });
  }
}

/** Every m.room.message in the room, oldest first, through /messages (dir=f) from the start: the durable record. */
export async function allMessages(client, roomId) {
  const events = [];
  let from;
  for (;;) {
    const page = await client.messages(roomId, { from, dir: "f", limit: 500 });
    for (const e of page.chunk ?? []) if (e.type === "m.room.message") events.push(e);
    if (!page.end || (page.chunk ?? []).length === 0) return events;
    from = page.end;
  }
}

/** Runs `total` calls of `fn(i)` with `concurrency` in flight; answers per-call latencies (ms) and wall time. */
export async function pool(total, concurrency, fn) {
  const samples = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await fn(i);
        samples.push(performance.now() - s);
      }
    }),
  );
  return { samples, wallMs: performance.now() - t0 };
}
