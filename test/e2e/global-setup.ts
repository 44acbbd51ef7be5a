import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
// @ts-expect-error: plain ESM helper shared with `npm start` and the benchmark
import { applyMigrations, startWorker, stopWorker } from "../../scripts/worker.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Starts the real Worker under `wrangler dev` on fresh local state, once for the whole e2e project. */
export default async function setup(project: TestProject) {
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-e2e-"));
  applyMigrations(persistTo);
  const port = await freePort();
  const worker = await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: { RATE_LIMIT_ENABLED: "false", SERVER_NAME: "localhost", PUBLIC_BASEURL: `http://127.0.0.1:${port}/` },
  });
  project.provide("baseUrl", worker.baseUrl);
  return () => {
    stopWorker(worker.child);
    rmSync(persistTo, { recursive: true, force: true });
  };
}
