// `npm run bench [-- --quick]`: starts the Worker exactly as `npm start` does (fresh local state), runs each
// scenario after a warm-up, and prints a Markdown table of latency percentiles, throughput and the peak resident
// memory of the local server's process tree. Writes the same numbers to bench-results/latest.json.
import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { applyMigrations, root, startWorker, stopWorker } from "./worker.mjs";

const quick = process.argv.includes("--quick");
const scale = (n) => (quick ? Math.max(4, Math.ceil(n / 10)) : n);

// ---- memory of the server's process tree (wrangler + workerd), sampled from /proc ----
function treeRssKb(pid) {
  let total = 0;
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      children.set(Number(entry), { ppid, rss });
    } catch {
      // process ended while we looked
    }
  }
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    total += children.get(p)?.rss ?? 0;
    for (const [child, info] of children) if (info.ppid === p) stack.push(child);
  }
  return total;
}

// ---- helpers ----
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
function summarize(name, samples, wallMs, note = "") {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    scenario: name,
    n: samples.length,
    p50_ms: +percentile(sorted, 50).toFixed(1),
    p99_ms: +percentile(sorted, 99).toFixed(1),
    max_ms: +sorted[sorted.length - 1].toFixed(1),
    throughput_per_s: +((samples.length / wallMs) * 1000).toFixed(1),
    note,
  };
}

let base;
async function call(method, p, { token, body } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${p} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Runs `total` calls of `fn(i)` with `concurrency` in flight; returns per-call latencies and wall time. */
async function load(total, concurrency, fn) {
  const samples = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        samples.push(await timed(() => fn(i)));
      }
    }),
  );
  return { samples, wallMs: performance.now() - t0 };
}

let counter = 0;
async function register() {
  const username = `bench${Date.now().toString(36)}${counter++}`;
  const res = await call("POST", "/_matrix/client/v3/register", { body: { username, password: "bench password", auth: { type: "m.login.dummy" } } });
  return { username, token: res.access_token, userId: res.user_id };
}

// ---- scenarios ----
async function main() {
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-bench-"));
  applyMigrations(persistTo);
  const t0 = performance.now();
  const worker = await startWorker({ port: 8790, inspectorPort: 9790, persistTo, vars: { RATE_LIMIT_ENABLED: "false" } });
  const coldStartMs = performance.now() - t0;
  base = worker.baseUrl;
  let peakKb = 0;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, treeRssKb(worker.child.pid))), 100);
  const rows = [];
  try {
    rows.push({ scenario: "cold start (spawn -> first 200)", n: 1, p50_ms: +coldStartMs.toFixed(0), p99_ms: "", max_ms: "", throughput_per_s: "", note: "wrangler dev + workerd" });

    await register(); // warm-up
    const reg = await load(scale(50), 1, () => register());
    rows.push(summarize("register (UIA dummy, PBKDF2)", reg.samples, reg.wallMs));

    const user = await register();
    const loginBody = { type: "m.login.password", identifier: { type: "m.id.user", user: user.username }, password: "bench password" };
    const login = await load(scale(100), 1, () => call("POST", "/_matrix/client/v3/login", { body: loginBody }));
    rows.push(summarize("login (m.login.password)", login.samples, login.wallMs));

    const create = await load(scale(50), 1, () => call("POST", "/_matrix/client/v3/createRoom", { token: user.token, body: { name: "bench" } }));
    rows.push(summarize("createRoom (6 events, one batch)", create.samples, create.wallMs));

    const senders = await Promise.all(Array.from({ length: 8 }, () => register()));
    const { room_id: roomId } = await call("POST", "/_matrix/client/v3/createRoom", { token: user.token, body: { preset: "public_chat" } });
    for (const s of senders) await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: s.token, body: {} });
    const send = (i) =>
      call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b${i}-${Math.random()}`, {
        token: senders[i % senders.length].token,
        body: { msgtype: "m.text", body: `bench ${i}` },
      });
    for (let i = 0; i < 20; i++) await send(i); // warm-up
    for (const concurrency of [1, 16, 64]) {
      const r = await load(scale(concurrency === 1 ? 200 : 640), concurrency, send);
      rows.push(summarize(`send message, concurrency ${concurrency} (one room)`, r.samples, r.wallMs));
    }

    const page = await load(scale(100), 1, () => call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`, { token: user.token }));
    rows.push(summarize("/messages, 50 events back", page.samples, page.wallMs));

    for (const name of [
      "/sync wake latency",
      "initial /sync 100 rooms x 50 events",
      "incremental /sync",
      "sliding sync first page (20 of 1,000 rooms)",
      "to-device latency",
      "keys/claim",
      "media upload / download MB/s",
      "appservice transaction latency",
    ]) {
      rows.push({ scenario: name, n: 0, p50_ms: "", p99_ms: "", max_ms: "", throughput_per_s: "", note: "not run: feature not built yet" });
    }
  } finally {
    clearInterval(sampler);
    stopWorker(worker.child);
    rmSync(persistTo, { recursive: true, force: true });
  }

  const header = {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    wrangler: JSON.parse(readFileSync(path.join(root, "node_modules/wrangler/package.json"), "utf8")).version,
    git: safe(() => execSync("git rev-parse --short HEAD", { cwd: root }).toString().trim()),
    mode: quick ? "quick" : "full",
    peak_rss_mb: +(peakKb / 1024).toFixed(0),
  };
  const columns = ["scenario", "n", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "note"];
  console.log(`\nBenchmark ${header.date} · ${header.cores} cores (${header.cpu}) · Node ${header.node} · wrangler ${header.wrangler} · ${header.git} · ${header.mode}`);
  console.log(`Peak resident memory of the local server process tree: ${header.peak_rss_mb} MB\n`);
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
  mkdirSync(path.join(root, "bench-results"), { recursive: true });
  writeFileSync(path.join(root, "bench-results", "latest.json"), JSON.stringify({ ...header, rows }, null, 2));
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return "unknown";
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
