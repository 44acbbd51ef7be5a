// `npm run bench [-- --quick]`: starts the Worker exactly as `npm start` does (fresh local state), runs each
// scenario after a warm-up, and prints a Markdown table of latency percentiles, throughput and the peak resident
// memory of the local server's process tree. Writes the same numbers to bench-results/latest.json.
import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { AppserviceReceiver, appserviceScenario, freePort } from "./bench/appservice.mjs";
import { call as callApi, pool as load } from "./bench/client.mjs";
import { removeDir, stopAndWait } from "./bench/lifecycle.mjs";
import { keysClaim, mediaThroughput, toDeviceLatency } from "./bench/device-scenarios.mjs";
import { discordScenario } from "./bench/discord.mjs";
import { slackScenario } from "./bench/slack.mjs";
import { jpegThumbnail } from "./bench/media-thumbnail.mjs";
import { row, summarize, treeRssKb } from "./bench/stats.mjs";
import { initialAndIncrementalSync, slidingSync, syncWake } from "./bench/sync-scenarios.mjs";
import { applyMigrations, root, startWorker } from "./worker.mjs";

const quick = process.argv.includes("--quick");
/** `--only <text>`: run only the scenarios whose name contains the text (the basic request rows are skipped). */
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
const scale = (n) => (quick ? Math.max(4, Math.ceil(n / 10)) : n);

let base;
const call = (method, p, { token, body } = {}) => callApi(base, method, p, { token, body });

let counter = 0;
async function register() {
  const username = `bench${Date.now().toString(36)}${counter++}`;
  const res = await call("POST", "/_matrix/client/v3/register", { body: { username, password: "bench password", auth: { type: "m.login.dummy" } } });
  return { username, token: res.access_token, userId: res.user_id };
}

/** Runs one scenario; if its feature is missing or broken, the table says "not run" with the reason instead. */
async function attempt(names, fn) {
  if (only && !names.some((name) => name.includes(only))) return [];
  const t0 = performance.now();
  try {
    const rows = await fn();
    console.error(`  ${names[0]}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return rows;
  } catch (err) {
    const reason = String(err?.message ?? err).split("\n")[0].slice(0, 160).replaceAll("|", "/");
    console.error(`  ${names[0]}: not run: ${reason}`);
    return names.map((name) => row(name, { n: 0, note: `not run: ${reason}` }));
  }
}

// ---- scenarios ----
async function main() {
  const benchStart = performance.now();
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-bench-"));
  applyMigrations(persistTo);
  const receiver = new AppserviceReceiver({ port: await freePort() });
  await receiver.start();
  const t0 = performance.now();
  const worker = await startWorker({ port: 8790, inspectorPort: 9790, persistTo, vars: { RATE_LIMIT_ENABLED: "false", APPSERVICES: receiver.registration() } });
  const coldStartMs = performance.now() - t0;
  base = worker.baseUrl;
  let peakKb = 0;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, treeRssKb(worker.child.pid))), 100);
  const rows = [];
  try {
    rows.push({ scenario: "cold start (spawn -> first 200)", n: 1, p50_ms: +coldStartMs.toFixed(0), p99_ms: "", max_ms: "", throughput_per_s: "", note: "wrangler dev + workerd" });

    if (!only) {
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
    }

    const ctx = { base, quick, receiver };
    rows.push(...(await attempt(["/sync wake latency"], () => syncWake(ctx))));
    let seeded;
    rows.push(
      ...(await attempt(["initial /sync", "incremental /sync"], async () => {
        seeded = await initialAndIncrementalSync(ctx);
        return seeded.rows;
      })),
    );
    rows.push(...(await attempt(["sliding sync first page", "sliding sync incremental"], () => slidingSync(ctx, seeded))));
    rows.push(...(await attempt(["to-device latency"], () => toDeviceLatency(ctx))));
    rows.push(...(await attempt(["keys/claim"], () => keysClaim(ctx))));
    rows.push(...(await attempt(["media upload", "media download"], () => mediaThroughput(ctx))));
    rows.push(...(await attempt(["media thumbnail of a 12-MP JPEG"], () => jpegThumbnail({ ...ctx, pid: worker.child.pid }))));
    rows.push(...(await attempt(["appservice transaction latency", "appservice throughput"], () => appserviceScenario(ctx))));
    rows.push(...(await attempt(["discord -> element latency", "element -> discord latency", "discord bridge sustained"], () => discordScenario(ctx))));
    rows.push(...(await attempt(["slack -> element latency", "element -> slack latency", "slack bridge sustained"], () => slackScenario(ctx))));
  } finally {
    clearInterval(sampler);
    await stopAndWait(worker.child);
    await receiver.stop();
    removeDir(persistTo);
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
    duration_s: +((performance.now() - benchStart) / 1000).toFixed(0),
  };
  const columns = ["scenario", "n", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "note"];
  console.log(`\nBenchmark ${header.date} · ${header.cores} cores (${header.cpu}) · Node ${header.node} · wrangler ${header.wrangler} · ${header.git} · ${header.mode} · ${header.duration_s} s`);
  console.log(`Peak resident memory of the local server process tree: ${header.peak_rss_mb} MB\n`);
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
  if (only) return; // a partial run leaves the full run's results alone
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
