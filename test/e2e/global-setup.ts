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
    appservice: E2eAppservice;
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

/** The application service registered for test/e2e/appservice.test.ts, which listens on `port`. */
export interface E2eAppservice {
  id: string;
  port: number;
  asToken: string;
  hsToken: string;
}

function appserviceRegistration(as: E2eAppservice): string {
  return JSON.stringify([
    {
      id: as.id,
      url: `http://127.0.0.1:${as.port}`,
      // Resolved from the E2E_AS_TOKEN variable, as a deployment resolves it from a Worker secret.
      as_token: "${E2E_AS_TOKEN}",
      hs_token: as.hsToken,
      sender_localpart: "_bridge_bot",
      rate_limited: false,
      receive_ephemeral: true,
      // End-to-bridge encryption: to-device messages, device lists and key counts in transactions.
      "org.matrix.msc3202": true,
      protocols: ["bridge"],
      namespaces: {
        users: [{ exclusive: true, regex: "@_bridge_.*:localhost" }],
        aliases: [{ exclusive: true, regex: "#_bridge_.*:localhost" }],
      },
    },
  ]);
}

/** Starts the real Worker under `wrangler dev` on fresh local state, once for the whole e2e project. */
export default async function setup(project: TestProject) {
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-e2e-"));
  applyMigrations(persistTo);
  const port = await freePort();
  const appservice: E2eAppservice = { id: "e2e-bridge", port: await freePort(), asToken: "e2e-as-token", hsToken: "e2e-hs-token" };
  const worker = await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: {
      RATE_LIMIT_ENABLED: "false",
      URL_PREVIEW_ALLOW_PRIVATE: "true",
      SERVER_NAME: "localhost",
      PUBLIC_BASEURL: `http://127.0.0.1:${port}/`,
      APPSERVICES: appserviceRegistration(appservice),
      E2E_AS_TOKEN: appservice.asToken,
      APPSERVICE_RETRY_MAX_MS: "1000",
    },
  });
  project.provide("baseUrl", worker.baseUrl);
  project.provide("appservice", appservice);
  return () => {
    stopWorker(worker.child);
    rmSync(persistTo, { recursive: true, force: true });
  };
}
