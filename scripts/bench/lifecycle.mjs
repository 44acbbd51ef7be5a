// Stopping a local Worker and waiting until its whole process group (wrangler and workerd) is gone, so the
// persist directory is no longer written to when it is reused or removed.
import { rmSync } from "node:fs";
import { stopWorker } from "../worker.mjs";

const groupAlive = (pid) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function stopAndWait(child, signal = "SIGTERM", timeoutMs = 15_000) {
  stopWorker(child, signal);
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(child.pid)) {
    if (Date.now() > deadline) {
      stopWorker(child, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}
