// `npm run test:fault [-- --short]`: runs a load against a Worker on a persist directory, SIGKILLs the Worker's
// whole process group mid-load, starts it again on the same state and checks that
//  - every acknowledged message is still there, and clients resuming from their last `since` (retrying their
//    in-flight sends with the same txnId) see every message exactly once, in one order, with no gaps;
//  - to-device messages acknowledged before the crash are gone and the unacknowledged ones are delivered;
//  - the registered appservice's queue resumes: it receives every acknowledged message of its rooms.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AppserviceReceiver, freePort } from "./bench/appservice.mjs";
import { registerUser } from "./bench/client.mjs";
import { removeDir, stopAndWait } from "./bench/lifecycle.mjs";
import { setupTraffic, verifyTraffic } from "./bench/traffic.mjs";
import { applyMigrations, startWorker } from "./worker.mjs";

const short = process.argv.includes("--short");
const clients = short ? 6 : 20;
const rooms = short ? 2 : 4;
const messages = short ? 20 : 60;
const killAfter = Math.floor(clients * messages * 0.4);

const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-fault-"));
applyMigrations(persistTo);
const port = await freePort();
const inspectorPort = await freePort();
const receiver = new AppserviceReceiver({ port: await freePort(), id: "fault-as" });
await receiver.start();
const vars = { RATE_LIMIT_ENABLED: "false", APPSERVICES: receiver.registration(), APPSERVICE_RETRY_MAX_MS: "1000" };
let worker = await startWorker({ port, inspectorPort, persistTo, vars });
const base = worker.baseUrl;
const failures = [];

const toDeviceNs = (sync) => (sync.to_device?.events ?? []).filter((e) => e.type === "org.example.fault").map((e) => e.content.n);

try {
  const joinBot = async (roomId) => {
    const res = await fetch(`${base}/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { method: "POST", headers: { authorization: `Bearer ${receiver.asToken}`, "content-type": "application/json" }, body: "{}" });
    if (!res.ok) throw new Error(`appservice bot join -> ${res.status}`);
  };
  const traffic = await setupTraffic(base, { clients, rooms, extraJoin: joinBot });

  // To-device: 1..5 delivered and acknowledged (B syncs past them), 6..10 sent but never synced before the crash.
  const a = await registerUser(base, "tda");
  const b = await registerUser(base, "tdb");
  const first = await b.sync();
  for (let n = 1; n <= 5; n++) await a.sendToDevice("org.example.fault", { [b.userId]: { [b.deviceId]: { n } } });
  const delivered = await b.sync({ since: first.next_batch });
  if (toDeviceNs(delivered).join() !== "1,2,3,4,5") failures.push(`to-device before the crash: got ${toDeviceNs(delivered)}`);
  const acknowledged = await b.sync({ since: delivered.next_batch });
  for (let n = 6; n <= 10; n++) await a.sendToDevice("org.example.fault", { [b.userId]: { [b.deviceId]: { n } } });

  let acks = 0;
  let killed;
  const crash = new Promise((resolve) => (killed = resolve));
  const sending = traffic.send(messages, { onAck: () => ++acks === killAfter && killed() });
  await crash;
  const ackedBeforeKill = acks;
  await stopAndWait(worker.child, "SIGKILL");
  const beforeKill = new Set(traffic.members.flatMap((m) => m.acked));
  console.log(`SIGKILL after ${ackedBeforeKill} of ${clients * messages} messages acknowledged; restarting on the same state`);
  await new Promise((r) => setTimeout(r, 1_000));
  const t0 = performance.now();
  worker = await startWorker({ port, inspectorPort, persistTo, vars });
  console.log(`restarted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sending;
  await traffic.drain();

  const after = await b.sync({ since: acknowledged.next_batch });
  const afterNs = toDeviceNs(after);
  if (afterNs.join() !== "6,7,8,9,10") failures.push(`to-device after the crash: expected 6..10 exactly once, got [${afterNs}]`);

  const acked = traffic.members.flatMap((m) => m.acked);
  if (acked.length !== clients * messages) failures.push(`${acked.length} of ${clients * messages} messages acknowledged`);
  failures.push(...(await verifyTraffic(traffic)));
  try {
    await receiver.waitFor(acked, 60_000);
  } catch (err) {
    const missing = acked.filter((id) => !receiver.arrivals.has(id));
    const positions = traffic.members.flatMap((m) => m.acked.map((id, i) => (missing.includes(id) ? `${m.client.userId} #${i}${beforeKill.has(id) ? " (acked before the kill)" : ""}` : null))).filter(Boolean);
    failures.push(`${err.message}: ${positions.join(", ")}`);
  }
  const repeats = receiver.deliveries.length - new Set(receiver.deliveries).size;
  console.log(`${acked.length} messages acknowledged, ${traffic.stats.retries} client retries (${traffic.stats.lastError}); appservice: ${receiver.transactions.size} transactions, ${repeats} events delivered again (retried transactions)`);
} catch (err) {
  failures.push(String(err?.stack ?? err));
} finally {
  await stopAndWait(worker.child);
  await receiver.stop();
  removeDir(persistTo);
}
if (failures.length) {
  console.error(`FAIL (${failures.length}):\n  ${failures.slice(0, 30).join("\n  ")}`);
  process.exit(1);
}
console.log("PASS: acknowledged messages survived the SIGKILL, clients resumed without gaps or duplicates, to-device and appservice queues resumed");
