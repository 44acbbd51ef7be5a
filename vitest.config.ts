import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations("migrations");

export default defineConfig({
  test: {
    projects: [
      {
        // Route, storage, Durable Object and pure-logic tests inside workerd, against the real Worker.
        plugins: [
          cloudflareTest({
            main: "homeserver/src/index.ts",
            wrangler: { configPath: "wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                RATE_LIMIT_ENABLED: "false",
                REGISTRATION_TOKEN: "test-registration-token",
                FUZZ_SEED: process.env["FUZZ_SEED"] ?? "20261126",
                // The bridge core's tests (bridges/core/test): a connector "testnet" with no push url.
                APPSERVICES: JSON.stringify([
                  {
                    id: "testnet",
                    url: null,
                    as_token: "testnet-as-token",
                    hs_token: "testnet-hs-token",
                    sender_localpart: "_testnet_bot",
                    rate_limited: false,
                    namespaces: { users: [{ exclusive: true, regex: "@_testnet_.*:localhost:8787" }] },
                  },
                ]),
              },
            },
          }),
        ],
        test: {
          name: "workers",
          // Generous: the suite shares 2 cores with workerd, and PBKDF2 logins are deliberately slow.
          testTimeout: 30_000,
          include: ["homeserver/test/**/*.test.ts", "bridges/**/test/**/*.test.ts"],
          setupFiles: ["homeserver/test/setup.ts"],
        },
      },
      {
        // End-to-end: the real Worker under `wrangler dev`, driven by real clients (matrix-js-sdk) from Node.
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/global-setup.ts"],
          setupFiles: ["test/e2e/setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
