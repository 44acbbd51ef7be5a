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

/**
 * Resident memory (kB) of `pid` and all its descendants: `VmRSS` (everything), or one part of it: `RssAnon` (heaps:
 * what the JavaScript and workerd allocate) or `RssFile` (mapped files, e.g. the local SQLite databases' pages).
 */
export function treeRssKb(pid, field = "VmRSS") {
  const pattern = new RegExp(`${field}:\\s+(\\d+)`);
  const procs = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      procs.set(Number(entry), {
        ppid: Number(/PPid:\s+(\d+)/.exec(status)?.[1]),
        rss: Number(pattern.exec(status)?.[1] ?? 0),
      });
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    total += procs.get(p)?.rss ?? 0;
    for (const [child, info] of procs) if (info.ppid === p) stack.push(child);
  }
  return total;
}
