// Starts the homeserver Worker locally with wrangler, offline: shared by `npm start`, the end-to-end tests and
// the benchmark, so all three run the Worker exactly the same way.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");

/** Environment that keeps wrangler from any outside connection (no telemetry, no account lookups). */
export const offlineEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
};

/** Applies the D1 migrations to the local database under `persistTo` (wrangler dev does not). */
export function applyMigrations(persistTo) {
  const args = ["d1", "migrations", "apply", "DB", "--local"];
  if (persistTo) args.push("--persist-to", persistTo);
  const r = spawnSync(wrangler, args, { cwd: root, env: offlineEnv, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`D1 migrations failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * Runs `wrangler dev`, or with `inspector: false` the same Worker (same wrangler.toml, bundling, bindings and local
 * state) through wrangler's programmatic API without the DevTools inspector, whose proxy buffers every runtime
 * message while no DevTools window is attached (long runs: `npm run test:endurance`). `vars` override wrangler.toml's
 * [vars]. `frozen` (without the inspector only) serves a copy of the sources taken at start, so that source edits do not
 * reload the Worker during a long run. Resolves once the server answers /versions. Returns the child process and its
 * base URL.
 */
export async function startWorker({ port = 8787, inspectorPort, inspector = true, frozen = false, persistTo, vars = {}, stdio = "pipe" } = {}) {
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspectorPort ?? port + 1000)];
  if (persistTo) args.push("--persist-to", persistTo);
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const [command, commandArgs] = inspector ? [wrangler, args] : [process.execPath, [fileURLToPath(import.meta.url), JSON.stringify({ port, frozen, persistTo, vars })]];
  const child = spawn(command, commandArgs, { cwd: root, env: offlineEnv, stdio: stdio === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"], detached: stdio !== "inherit" });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/_matrix/client/versions`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stopWorker(child);
      throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl, output: () => output };
}

/**
 * The settings of a local Worker with the `network` bridge enabled for `owner` and registered as an appservice at
 * the Worker itself (`@_<network>_.*:localhost` users, tokens from `<NETWORK>_AS_TOKEN` / `_HS_TOKEN`, `registration`
 * adding to the registration): what the bridges' end-to-end tests and benchmarks start it with.
 */
export function bridgeWorkerVars(network, port, { owner, asToken, hsToken, registration = {} }) {
  const upper = network.toUpperCase();
  const appservice = {
    id: network,
    url: `http://127.0.0.1:${port}/_bridges/${network}`,
    as_token: `\${${upper}_AS_TOKEN}`,
    hs_token: `\${${upper}_HS_TOKEN}`,
    sender_localpart: `_${network}_bot`,
    rate_limited: false,
    ...registration,
    namespaces: { users: [{ exclusive: true, regex: `@_${network}_.*:localhost` }] },
  };
  return {
    RATE_LIMIT_ENABLED: "false",
    SERVER_NAME: "localhost",
    PUBLIC_BASEURL: `http://127.0.0.1:${port}/`,
    APPSERVICES: JSON.stringify([appservice]),
    [`${upper}_BRIDGE_ENABLED`]: "true",
    [`${upper}_BRIDGE_OWNER`]: owner,
    [`${upper}_AS_TOKEN`]: asToken,
    [`${upper}_HS_TOKEN`]: hsToken,
  };
}

/** Stops a worker started with startWorker, with its whole process group (wrangler spawns workerd). */
export function stopWorker(child, signal = "SIGTERM") {
  if (child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** A copy of the project without its dependencies (linked), build output and history; removed at exit. */
function copyOfSources() {
  const dir = mkdtempSync(path.join(tmpdir(), "matrix-worker-src-"));
  for (const entry of readdirSync(root)) {
    if (entry === "node_modules") symlinkSync(path.join(root, entry), path.join(dir, entry));
    else if (![".git", ".wrangler", "bench-results"].includes(entry)) cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  }
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `node scripts/worker.mjs '{"port":…,"frozen":…,"persistTo":…,"vars":{…}}'`: the child of `startWorker({ inspector: false })`. */
async function serveWithoutInspector({ port, frozen, persistTo, vars }) {
  const { unstable_startWorker } = await import("wrangler");
  const worker = await unstable_startWorker({
    config: path.join(frozen ? copyOfSources() : root, "wrangler.toml"),
    bindings: Object.fromEntries(Object.entries(vars).map(([name, value]) => [name, { type: "plain_text", value }])),
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist: persistTo, logLevel: "warn" },
  });
  await worker.ready;
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => void worker.dispose().finally(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await serveWithoutInspector(JSON.parse(process.argv[2]));
