// A plain Node HTTP server registered as an application service: records when each event of each transaction
// arrives. Used by the benchmark (latency, throughput) and the fault test (the queue resumes after a crash).
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { pool, registerUser } from "./client.mjs";
import { summarize } from "./stats.mjs";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export class AppserviceReceiver {
  /** event_id -> arrival time (performance.now()) of its first delivery. */
  arrivals = new Map();
  /** to-device message id (`content.id`) -> arrival time, for the MSC3202 appservice. */
  toDeviceArrivals = new Map();
  /** event_ids in arrival order, repeats included (a retried transaction delivers its events again). */
  deliveries = [];
  transactions = new Set();
  waiters = [];

  constructor({ port, hsToken = "bench-hs-token", asToken = "bench-as-token", id = "bench-as" }) {
    Object.assign(this, { port, hsToken, asToken, id });
  }

  /** The end-to-bridge encryption appservice beside the plain one (same receiver): its users are `@_benchenc_*`. */
  get e2ee() {
    return { asToken: `${this.asToken}-e2ee`, hsToken: `${this.hsToken}-e2ee` };
  }

  /**
   * The APPSERVICES value registering this receiver twice: a plain appservice (users `@_bench_*`) and one with
   * `receive_ephemeral` and `org.matrix.msc3202` (users `@_benchenc_*`), which gets to-device messages.
   */
  registration() {
    return JSON.stringify([
      {
        id: this.id,
        url: `http://127.0.0.1:${this.port}`,
        as_token: this.asToken,
        hs_token: this.hsToken,
        sender_localpart: "_bench_bot",
        rate_limited: false,
        namespaces: { users: [{ exclusive: true, regex: "@_bench_.*" }], aliases: [], rooms: [] },
      },
      {
        id: `${this.id}-e2ee`,
        url: `http://127.0.0.1:${this.port}`,
        as_token: this.e2ee.asToken,
        hs_token: this.e2ee.hsToken,
        sender_localpart: "_benchenc_bot",
        rate_limited: false,
        receive_ephemeral: true,
        "org.matrix.msc3202": true,
        namespaces: { users: [{ exclusive: true, regex: "@_benchenc_.*" }], aliases: [], rooms: [] },
      },
    ]);
  }

  start() {
    this.server = createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const now = performance.now();
        const txn = /^\/_matrix\/app\/v1\/transactions\/([^/?]+)/.exec(req.url ?? "");
        const tokens = [`Bearer ${this.hsToken}`, `Bearer ${this.e2ee.hsToken}`];
        if (req.method !== "PUT" || !txn || !tokens.includes(req.headers.authorization)) {
          res.writeHead(req.method === "PUT" ? 403 : 404, { "content-type": "application/json" }).end("{}");
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        this.transactions.add(txn[1]);
        for (const event of body.events ?? []) {
          this.deliveries.push(event.event_id);
          if (!this.arrivals.has(event.event_id)) this.arrivals.set(event.event_id, now);
        }
        for (const message of body["de.sorunome.msc2409.to_device"] ?? []) {
          if (!this.toDeviceArrivals.has(message.content.id)) this.toDeviceArrivals.set(message.content.id, now);
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        this.waiters = this.waiters.filter((w) => !w());
      });
    });
    return new Promise((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
  }

  stop() {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Resolves once every id in `eventIds` has arrived, or rejects after `timeoutMs`. */
  waitFor(eventIds, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (eventIds.every((id) => this.arrivals.has(id))) {
          clearTimeout(timer);
          resolve();
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        const missing = eventIds.filter((id) => !this.arrivals.has(id)).length;
        reject(new Error(`appservice did not receive ${missing} of ${eventIds.length} events within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }
}

/** A room the appservice's bot is joined to (so it is interested in every event of it), with a plain sender. */
export async function appserviceRoom(base, receiver) {
  const sender = await registerUser(base, "assend");
  const roomId = await sender.createRoom({ preset: "public_chat" });
  const res = await fetch(`${base}/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${receiver.asToken}`, "content-type": "application/json" },
    body: "{}",
  });
  if (!res.ok) throw new Error(`appservice bot join -> ${res.status} ${await res.text()}`);
  return { sender, roomId };
}

/** Latency (one event at a time) and throughput (1,000 events, 16 in flight) from send start to arrival. */
export async function appserviceScenario({ base, quick, receiver }) {
  if (!receiver) throw new Error("no appservice receiver registered");
  const { sender, roomId } = await appserviceRoom(base, receiver);
  const latency = [];
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 30 : 100); i++) {
    const start = performance.now();
    const eventId = await sender.send(roomId, { msgtype: "m.text", body: `as ${i}` });
    await receiver.waitFor([eventId], 30_000);
    latency.push(receiver.arrivals.get(eventId) - start);
  }
  const rows = [summarize("appservice transaction latency (send start -> AS receives)", latency, performance.now() - t0, "one event at a time")];
  rows.push(await toDeviceLatency(base, quick, receiver, sender));

  const total = quick ? 200 : 1000;
  const ids = [];
  const start = performance.now();
  const sent = await pool(total, 16, async (i) => ids.push(await sender.send(roomId, { msgtype: "m.text", body: `as burst ${i}` })));
  await receiver.waitFor(ids, 120_000);
  const arrivedMs = Math.max(...ids.map((id) => receiver.arrivals.get(id))) - start;
  const lag = ids.map((id) => receiver.arrivals.get(id) - start);
  rows.push({
    ...summarize(`appservice throughput, ${total} events (16 in flight)`, lag, arrivedMs, `all sent in ${(sent.wallMs / 1000).toFixed(1)} s, all received in ${(arrivedMs / 1000).toFixed(1)} s; p50/p99 = time from burst start`),
  });
  return rows;
}

/** MSC2409: a to-device message to a ghost's device, from PUT /sendToDevice start to the appservice receiving it. */
async function toDeviceLatency(base, quick, receiver, sender) {
  const asCall = async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${receiver.e2ee.asToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${await res.text()}`);
    return res.json();
  };
  const { user_id: ghost } = await asCall("POST", "/_matrix/client/v3/register", {
    type: "m.login.application_service",
    username: `_benchenc_${Date.now().toString(36)}`,
    inhibit_login: true,
  });
  await asCall("PUT", `/_matrix/client/v3/devices/BENCHDEV?user_id=${encodeURIComponent(ghost)}`, {});
  const latency = [];
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 30 : 100); i++) {
    const id = `td${i}-${Math.random()}`;
    const start = performance.now();
    await sender.call("PUT", `/_matrix/client/v3/sendToDevice/m.bench/${encodeURIComponent(id)}`, { messages: { [ghost]: { BENCHDEV: { id } } } });
    const deadline = Date.now() + 30_000;
    while (!receiver.toDeviceArrivals.has(id)) {
      if (Date.now() > deadline) throw new Error("the appservice did not receive a to-device message within 30 s");
      await new Promise((r) => setTimeout(r, 1));
    }
    latency.push(receiver.toDeviceArrivals.get(id) - start);
  }
  return summarize("to-device -> appservice latency (MSC2409, with MSC3202 key counts)", latency, performance.now() - t0, "one message at a time");
}
