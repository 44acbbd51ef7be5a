// What the bridge benchmarks share: the end-to-end tests' fake network loaded into this process, a Worker of its
// own with one bridge enabled and registered, the person as a plain HTTP client, and waiting on /sync.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { freePort } from "./appservice.mjs";
import { Client, call } from "./client.mjs";
import { removeDir, stopAndWait } from "./lifecycle.mjs";
import { applyMigrations, bridgeWorkerVars, root, startWorker } from "../worker.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const OWNER = "@benchperson:localhost";

/** test/e2e/fake-<network>.ts, bundled to plain ESM next to node_modules (so its `ws` import resolves). */
export async function loadFake(network) {
  const outdir = path.join(root, "node_modules", ".cache", "bench");
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, `fake-${network}.mjs`);
  await build({ entryPoints: [path.join(root, `test/e2e/fake-${network}.ts`)], bundle: true, platform: "node", format: "esm", packages: "external", outfile, logLevel: "error" });
  return import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
}

/** Waits until `probe()` is truthy, polling every millisecond (the fake lives in this process). */
export async function until(what, probe, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** Long-polls /sync until a timeline event of `roomId` satisfies `match`; answers the next since token. */
export async function syncUntil(person, since, roomId, match) {
  for (;;) {
    const res = await person.sync({ since, timeout: 30_000, filter: { room: { rooms: [roomId], timeline: { limit: 1000 } } } });
    since = res.next_batch;
    const events = res.rooms?.join?.[roomId]?.timeline?.events ?? [];
    if (events.some(match)) return since;
  }
}

/**
 * A fresh Worker with the `network` bridge enabled for OWNER and registered as an appservice at the Worker itself
 * (`@_<network>_.*` users), plus the bridge's own settings; the person registered. `stop()` ends it all.
 */
export async function startBridgeWorker(network, bridgeVars) {
  const persistTo = mkdtempSync(path.join(tmpdir(), `matrix-bench-${network}-`));
  applyMigrations(persistTo);
  const port = await freePort();
  const vars = bridgeWorkerVars(network, port, { owner: OWNER, asToken: `bench-${network}-as`, hsToken: `bench-${network}-hs` });
  const worker = await startWorker({ port, inspectorPort: await freePort(), persistTo, vars: { ...vars, ...bridgeVars } });
  const stop = async () => {
    await stopAndWait(worker.child);
    removeDir(persistTo);
  };
  try {
    const session = await call(worker.baseUrl, "POST", "/_matrix/client/v3/register", {
      body: { username: "benchperson", password: "bench password", auth: { type: "m.login.dummy" } },
    });
    const person = new Client(worker.baseUrl, { username: "benchperson", userId: session.user_id, token: session.access_token, deviceId: session.device_id });
    return { baseUrl: worker.baseUrl, person, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits for the invite to the portal room named `name`, joins it; answers the room id and the next since. */
export async function acceptPortal(person, since, name) {
  let portal;
  while (portal === undefined) {
    const res = await person.sync({ since, timeout: 30_000 });
    since = res.next_batch;
    portal = Object.entries(res.rooms?.invite ?? {}).find(([, room]) => room.invite_state?.events?.some((e) => e.type === "m.room.name" && e.content?.name === name))?.[0];
  }
  await person.join(portal);
  since = await syncUntil(person, since, portal, (e) => e.type === "m.room.member" && e.state_key === OWNER);
  return { portal, since };
}

/** `node scripts/bench/<network>.mjs [--short]`: runs one scenario alone and prints its rows as a table. */
export async function runAlone(moduleUrl, scenario) {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? "").href) return;
  const rows = await scenario({ quick: process.argv.includes("--short") || process.argv.includes("--quick") });
  const columns = ["scenario", "n", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "note"];
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const r of rows) console.log(`| ${columns.map((c) => r[c]).join(" | ")} |`);
}
