// `npm run test:endurance [-- --messages N]` (default 100,000; not in CI): N messages through one local Worker
// (10 rooms, 20 clients sending while long-polling /sync), then the load checks. Samples the resident memory of
// the server's process tree every second and says whether it stays flat.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./bench/appservice.mjs";
import { removeDir, stopAndWait } from "./bench/lifecycle.mjs";
import { runtimeRssKb, treeRssKb } from "./bench/stats.mjs";
import { setupTraffic, verifyTraffic } from "./bench/traffic.mjs";
import { applyMigrations, startWorker } from "./worker.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const total = arg("messages", 100_000);
const rooms = arg("rooms", 10);
const clients = arg("clients", 20);
const perClient = Math.ceil(total / clients);
/** Growth of the late peak over the early peak (after warm-up) still called flat. */
const FLAT_TOLERANCE = 0.15;

const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-endurance-"));
applyMigrations(persistTo);
const port = await freePort();
// Without wrangler dev's DevTools inspector (its proxy buffers every runtime message while no DevTools is attached),
// on a copy of the sources (edits during the run do not reload the Worker).
const worker = await startWorker({ port, inspector: false, frozen: true, persistTo, vars: { RATE_LIMIT_ENABLED: "false" } });
const samples = [];
let acked = 0;
const t0 = performance.now();
const mb = (field) => treeRssKb(worker.child.pid, field) / 1024;
const sample = () =>
  samples.push({ s: (performance.now() - t0) / 1000, acked, rssMb: mb("VmRSS"), anonMb: mb("RssAnon"), fileMb: mb("RssFile"), runtimeMb: runtimeRssKb(worker.child.pid, port, "RssAnon") / 1024 });
// Once a second, and at each tenth of the run (so a fast run has every tenth sampled too).
const sampler = setInterval(sample, 1_000);
const failures = [];
try {
  const traffic = await setupTraffic(worker.baseUrl, { clients, rooms });
  let lastReport = 0;
  const first = samples.at(-1);
  console.log(`before the first message: server RSS ${first?.rssMb.toFixed(0)} MB (heaps of the Worker's workerd ${first?.runtimeMb.toFixed(0)} MB)`);
  const sendStart = performance.now();
  await traffic.send(perClient, {
    onAck: () => {
      acked++;
      if (acked - lastReport >= total / 10) {
        lastReport = acked;
        sample();
        const last = samples.at(-1);
        console.log(`${acked} acknowledged, ${((performance.now() - sendStart) / 1000).toFixed(0)} s, server RSS ${last?.rssMb.toFixed(0)} MB (heaps of the Worker's workerd ${last?.runtimeMb.toFixed(0)} MB)`);
      }
    },
  });
  const sendS = (performance.now() - sendStart) / 1000;
  await traffic.drain(120_000);
  failures.push(...(await verifyTraffic(traffic)));
  if (traffic.stats.retries) failures.push(`${traffic.stats.retries} requests failed and were retried (last: ${traffic.stats.lastError})`);
  if (acked !== perClient * clients) failures.push(`${acked} of ${perClient * clients} messages acknowledged`);
  console.log(`${acked} messages in ${sendS.toFixed(0)} s (${(acked / sendS).toFixed(0)}/s), ${traffic.stats.retries} retries${traffic.stats.retries ? ` (last: ${traffic.stats.lastError})` : ""}, ${traffic.stats.reloads} requests retried across wrangler dev reloads (source edits)`);
} catch (err) {
  failures.push(String(err?.stack ?? err));
} finally {
  clearInterval(sampler);
  await stopAndWait(worker.child);
  removeDir(persistTo);
}

// Peak memory per tenth of the run; "flat" compares the last third's peak with the second tenth's (after warm-up),
// for the whole resident set, for its anonymous part (heaps), since mapped SQLite pages grow with the data, and for
// the heaps of the workerd process that runs the Worker (the rest of the tree is wrangler's, not Cloudflare's).
const sending = samples.filter((x) => x.acked > 0);
const tenths = Array.from({ length: 10 }, (_, i) => sending.filter((x) => x.acked > (total * i) / 10 && x.acked <= (total * (i + 1)) / 10));
const peak = (xs, key = "rssMb") => Math.max(0, ...xs.map((x) => x[key]));
console.log("\n| progress | messages acknowledged | peak server RSS (MB) | of it anonymous (heaps) | of it mapped files | heaps of the Worker's workerd |\n| --- | --- | --- | --- | --- | --- |");
const cell = (xs, key) => (xs.length ? peak(xs, key).toFixed(0) : "not reached");
tenths.forEach((xs, i) => console.log(`| ${(i + 1) * 10}% | ${Math.round((total * (i + 1)) / 10)} | ${cell(xs, "rssMb")} | ${cell(xs, "anonMb")} | ${cell(xs, "fileMb")} | ${cell(xs, "runtimeMb")} |`));
// A run that ended early has empty tenths: its memory trend cannot be judged (it is not "flat").
const reached = tenths.filter((xs) => xs.length > 0).length;
if (reached < tenths.length) {
  console.log(`INCOMPLETE: the run ended at ${acked} of ${total} messages acknowledged (${reached} of 10 tenths sampled); memory trend not judged. Peak RSS ${peak(samples).toFixed(0)} MB, anonymous ${peak(samples, "anonMb").toFixed(0)} MB`);
  failures.push(`run incomplete: ${acked} of ${total} messages acknowledged`);
}
const judged = reached === tenths.length ? [["rssMb", "RSS"], ["anonMb", "anonymous memory"], ["runtimeMb", "heaps of the Worker's workerd"]] : [];
for (const [key, what] of judged) {
  const early = peak(tenths[1], key);
  const late = peak(tenths.slice(7).flat(), key);
  const growth = early > 0 ? late / early - 1 : 0;
  // The two windows are about 0.7 of the run apart (the middle of the second tenth to the middle of the last three).
  const kbPerMessage = ((late - early) * 1024) / (total * 0.7);
  console.log(`Peak ${what} ${peak(samples, key).toFixed(0)} MB; ${(growth * 100).toFixed(1)}% (${kbPerMessage.toFixed(1)} KB per message) from the second tenth to the last three tenths: ${growth <= FLAT_TOLERANCE ? "flat" : "GROWING"} (tolerance ${FLAT_TOLERANCE * 100}%)`);
}
if (failures.length) {
  console.error(`FAIL (${failures.length}):\n  ${failures.slice(0, 30).join("\n  ")}`);
  process.exit(1);
}
console.log("PASS: no errors; every acknowledged message seen exactly once by every member, in one order, and in /messages without gaps");
