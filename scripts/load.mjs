// `npm run test:load [-- --short]`: 50 clients over 10 rooms each send 200 messages while long-polling /sync
// (`--short`: 10 clients x 2 rooms x 20 messages, the CI form). Passes when every acknowledged message is seen
// exactly once by every member of its room, in the same order for everyone, and /messages has it with no gaps.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./bench/appservice.mjs";
import { removeDir, stopAndWait } from "./bench/lifecycle.mjs";
import { setupTraffic, verifyTraffic } from "./bench/traffic.mjs";
import { applyMigrations, startWorker } from "./worker.mjs";

const short = process.argv.includes("--short");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const clients = arg("clients", short ? 10 : 50);
const rooms = arg("rooms", short ? 2 : 10);
const messages = arg("messages", short ? 20 : 200);

const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-load-"));
applyMigrations(persistTo);
const port = await freePort();
const worker = await startWorker({ port, inspectorPort: await freePort(), persistTo, vars: { RATE_LIMIT_ENABLED: "false" } });
let failures = [];
try {
  const t0 = performance.now();
  const traffic = await setupTraffic(worker.baseUrl, { clients, rooms });
  console.log(`${clients} clients in ${rooms} rooms, ${messages} messages each; setup ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const sendStart = performance.now();
  await traffic.send(messages);
  const sendMs = performance.now() - sendStart;
  await traffic.drain();
  const acked = traffic.members.reduce((n, m) => n + m.acked.length, 0);
  console.log(`${acked} messages acknowledged in ${(sendMs / 1000).toFixed(1)} s (${((acked * 1000) / sendMs).toFixed(0)}/s), ${traffic.stats.retries} retries${traffic.stats.retries ? ` (last: ${traffic.stats.lastError})` : ""}, ${traffic.stats.reloads} requests retried across wrangler dev reloads (source edits)`);
  failures = await verifyTraffic(traffic);
  if (traffic.stats.retries) failures.push(`${traffic.stats.retries} requests failed and were retried (last: ${traffic.stats.lastError})`);
  if (acked !== clients * messages) failures.push(`${acked} of ${clients * messages} messages acknowledged`);
} catch (err) {
  failures.push(String(err?.stack ?? err));
} finally {
  await stopAndWait(worker.child);
  removeDir(persistTo);
}
if (failures.length) {
  console.error(`FAIL (${failures.length}):\n  ${failures.slice(0, 30).join("\n  ")}`);
  process.exit(1);
}
console.log("PASS: every acknowledged message seen exactly once by every member, in one order, and in /messages without gaps");
