// `npm start`: apply local D1 migrations, then serve the homeserver on http://localhost:8787 (offline).
import { spawn } from "node:child_process";
import path from "node:path";
import { applyMigrations, offlineEnv, root } from "./worker.mjs";

applyMigrations();
const child = spawn(path.join(root, "node_modules", ".bin", "wrangler"), ["dev", "--port", "8787", ...process.argv.slice(2)], {
  cwd: root,
  env: offlineEnv,
  stdio: "inherit",
});
child.on("exit", (code) => process.exit(code ?? 0));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
