// `node scripts/bench/d1-growth.mjs [kind ...]`: what the local runtime (workerd under the miniflare wrangler pins)
// keeps per call, by kind of call, in a one-file Worker without our code: D1 with one SQL text or a different text
// per call, values inlined, a large result, a batch, a session; a Durable Object's own SQLite through RPC; a
// Durable Object fetch carrying a JSON body both ways (how the local D1 binding reaches its emulation object); none.
// Each kind runs in a fresh runtime: warm-up, then BLOCKS blocks of 10,000 calls (100 requests of 100 calls); after
// each block it prints the growth of workerd's anonymous memory, and the JavaScript heaps after a forced garbage
// collection (through the inspector) of the Worker's isolate and of all isolates (D1's emulation object runs in one),
// to tell what a collection would free from what stays outside every JavaScript heap.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import WebSocket from "ws";
import { freePort } from "./appservice.mjs";

const script = `
import { DurableObject } from "cloudflare:workers";
export class Obj extends DurableObject {
  sql(k) { return this.ctx.storage.sql.exec("SELECT ?1 AS k", k).one().k; }
  async fetch(req) {
    const q = await req.json();
    return Response.json({ success: true, results: Array.from(this.ctx.storage.sql.exec(q.sql, ...q.params).raw()) });
  }
}
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const kind = u.searchParams.get("kind"), n = Number(u.searchParams.get("n")), from = Number(u.searchParams.get("from"));
    const db = env.DB, obj = env.OBJ.get(env.OBJ.idFromName("a"));
    if (kind === "init") {
      await db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)");
      await db.prepare("INSERT INTO t (v) SELECT printf('%0100d', value) FROM json_each(?1)").bind(JSON.stringify(Array.from({ length: 1000 }, (_, i) => i))).run();
      return new Response("ok");
    }
    for (let k = from; k < from + n; k++) {
      const id = (k % 1000) + 1;
      if (kind === "d1-same") await db.prepare("SELECT v FROM t WHERE id = ?1").bind(id).first();
      else if (kind === "d1-distinct") await db.prepare("SELECT v FROM t WHERE id = ?1 /* " + k + " */").bind(id).first();
      else if (kind === "d1-inlined") await db.prepare("SELECT v FROM t WHERE id = " + id).first();
      else if (kind === "d1-200-rows") await db.prepare("SELECT v FROM t LIMIT 200").all();
      else if (kind === "d1-write") await db.prepare("UPDATE t SET v = ?2 WHERE id = ?1").bind(id, String(k)).run();
      else if (kind === "d1-batch-of-2") await db.batch([db.prepare("SELECT v FROM t WHERE id = ?1").bind(id), db.prepare("SELECT v FROM t WHERE id = ?1").bind(id + 1)]);
      else if (kind === "d1-session") await db.withSession("first-primary").prepare("SELECT v FROM t WHERE id = ?1").bind(id).first();
      else if (kind === "do-rpc-sql") await obj.sql(k);
      else if (kind === "do-fetch-json") await (await obj.fetch("http://do/query", { method: "POST", body: JSON.stringify({ sql: "SELECT ?1 AS k", params: [k] }) })).json();
      else if (kind !== "none") return new Response("unknown kind " + kind, { status: 400 });
    }
    return new Response("ok");
  },
};`;

const CALLS = 100;
const REQUESTS = 100;
const BLOCKS = Number(process.env.BLOCKS ?? 6);

/** The workerd child of this process. */
function workerdPid() {
  for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${p}/status`, "utf8").includes(`PPid:\t${process.pid}\n`) && readFileSync(`/proc/${p}/cmdline`, "utf8").includes("workerd")) return p;
    } catch {
      // ended while we looked
    }
  }
  throw new Error("no workerd child");
}

/**
 * Forces a garbage collection in one isolate (inspector target) and answers its used JavaScript heap (bytes), or 0
 * when it does not answer within 2 s (an isolate that never runs). workerd handles inspector messages when the
 * isolate next runs, so each message is followed by a request through the Worker and its D1 database (`poke`).
 */
async function heapAfterGc(debuggerUrl, poke) {
  const ws = new WebSocket(debuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const call = (method) =>
    new Promise((resolve, reject) => {
      const mine = ++id;
      const timer = setTimeout(() => reject(new Error("no answer")), 2_000);
      const onMessage = (data) => {
        const msg = JSON.parse(String(data));
        if (msg.id === mine) ws.off("message", onMessage), clearTimeout(timer), resolve(msg.result);
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id: mine, method }));
      // A poke can fail while an isolate it passes through is being inspected; the next call's poke serves as well.
      poke().catch(() => {});
    });
  try {
    await call("HeapProfiler.collectGarbage");
    return (await call("Runtime.getHeapUsage")).usedSize;
  } catch {
    return 0;
  } finally {
    ws.close();
  }
}

/** Used JavaScript heap (MB) after a forced GC of our Worker's isolate, and of all the runtime's isolates together. */
async function heapsMb(inspectorPort, poke) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
  let worker = 0;
  let all = 0;
  for (const t of targets) {
    const used = await heapAfterGc(t.webSocketDebuggerUrl, poke);
    all += used;
    if (t.id === "core:user:repro") worker = used;
  }
  return { worker: worker / 2 ** 20, all: all / 2 ** 20 };
}

async function measure(kind) {
  const persist = mkdtempSync(path.join(tmpdir(), "d1-growth-"));
  const inspectorPort = await freePort();
  const mf = new Miniflare({
    name: "repro",
    modules: true,
    script,
    compatibilityDate: "2026-04-20",
    compatibilityFlags: ["nodejs_compat"],
    d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
    durableObjects: { OBJ: { className: "Obj", useSQLite: true } },
    d1Persist: persist,
    durableObjectsPersist: persist,
    inspectorPort,
    cf: false,
    log: new Log(LogLevel.WARN),
  });
  try {
    const url = await mf.ready;
    const pid = workerdPid();
    const anonMb = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
    let from = 0;
    const run = async (requests) => {
      for (let i = 0; i < requests; i++, from += CALLS) {
        const res = await fetch(`${url}?kind=${kind}&n=${CALLS}&from=${from}`).catch((err) => {
          throw new Error(`${kind}, call ${from}: ${err.cause?.message ?? err.message}; workerd ${existsSync(`/proc/${pid}`) ? "still runs" : "has exited"}`);
        });
        if (!res.ok) throw new Error(`${kind}: ${res.status} ${await res.text()}`);
        await res.text();
      }
    };
    await (await fetch(`${url}?kind=init`)).text();
    await run(10);
    const start = anonMb();
    const line = [];
    for (let b = 0; b < BLOCKS; b++) {
      const before = anonMb();
      await run(REQUESTS);
      const heaps = await heapsMb(inspectorPort, () => fetch(`${url}?kind=d1-same&n=1&from=0`).then((r) => r.text()));
      line.push(`+${(anonMb() - before).toFixed(0)} (${heaps.worker.toFixed(1)} / ${heaps.all.toFixed(1)})`);
    }
    const perCallKb = ((anonMb() - start) * 1024) / (BLOCKS * REQUESTS * CALLS);
    console.log(`| ${kind} | ${start.toFixed(0)} | ${line.join(", ")} | ${perCallKb.toFixed(2)} |`);
  } finally {
    await mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

const kinds = process.argv.slice(2);
console.log(`| kind | workerd anonymous memory after warm-up (MB) | growth per 10,000 calls, MB (after a forced GC: our Worker's heap / all isolates' heaps, MB) | KB per call |\n| --- | --- | --- | --- |`);
for (const kind of kinds.length ? kinds : ["none", "d1-same", "d1-distinct", "d1-inlined", "d1-200-rows", "d1-write", "d1-batch-of-2", "d1-session", "do-rpc-sql", "do-fetch-json"]) await measure(kind);
