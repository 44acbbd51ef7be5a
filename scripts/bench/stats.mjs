// Percentiles, result rows and the memory of the server's process tree (wrangler + workerd, read from /proc).
import { readFileSync, readdirSync } from "node:fs";

export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** A result row from per-operation latencies (ms) over `wallMs`. */
export function summarize(scenario, samples, wallMs, note = "") {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    scenario,
    n: samples.length,
    p50_ms: +percentile(sorted, 50).toFixed(1),
    p99_ms: +percentile(sorted, 99).toFixed(1),
    max_ms: +sorted[sorted.length - 1].toFixed(1),
    throughput_per_s: +((samples.length / wallMs) * 1000).toFixed(1),
    note,
  };
}

/** A row for a scenario without latency percentiles (a rate, or one timed run). */
export function row(scenario, fields) {
  return { scenario, n: "", p50_ms: "", p99_ms: "", max_ms: "", throughput_per_s: "", note: "", ...fields };
}

/** `pid` and all its descendants, each with its /proc status text and command line. */
function processTree(pid) {
  const procs = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      procs.set(Number(entry), { ppid: Number(/PPid:\s+(\d+)/.exec(status)?.[1]), status, cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  const tree = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    if (procs.has(p)) tree.push(procs.get(p));
    for (const [child, info] of procs) if (info.ppid === p) stack.push(child);
  }
  return tree;
}

const kb = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);

/**
 * Resident memory (kB) of `pid` and all its descendants: `VmRSS` (everything), or one part of it: `RssAnon` (heaps:
 * what the JavaScript and workerd allocate) or `RssFile` (mapped files, e.g. the local SQLite databases' pages).
 */
export function treeRssKb(pid, field = "VmRSS") {
  return processTree(pid).reduce((sum, p) => sum + kb(p.status, field), 0);
}

/**
 * The same for the one process of wrangler's tree that runs the Worker: the workerd that does not serve the public
 * `port` (that one is wrangler's proxy workerd; the tree also holds wrangler's Node process; Cloudflare runs neither).
 */
export function runtimeRssKb(pid, port, field = "VmRSS") {
  const runtime = processTree(pid).find((p) => p.cmdline.includes("workerd serve") && !p.cmdline.includes(`entry=127.0.0.1:${port} `));
  return runtime ? kb(runtime.status, field) : 0;
}
