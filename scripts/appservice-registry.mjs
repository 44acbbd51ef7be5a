// Turns the registration files in appservice-registry/ (*.yaml, *.yml, *.json: the standard appservice
// registration format) into the APPSERVICES setting, a JSON array, because a Worker has no filesystem.
//   node scripts/appservice-registry.mjs              print the JSON (e.g. for `wrangler secret put APPSERVICES`)
//   node scripts/appservice-registry.mjs --dev-vars   write it as the APPSERVICES line of .dev.vars (local)
// Tokens in the files should be `${SECRET_NAME}` references; the Worker resolves them from its secrets.
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { root } from "./worker.mjs";

const dir = path.join(root, "appservice-registry");
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
const registrations = files.map((file) => {
  const source = `appservice-registry/${file}`;
  let value;
  try {
    value = parse(readFileSync(path.join(dir, file), "utf8"));
  } catch (err) {
    throw new Error(`${source}: not valid YAML/JSON: ${err.message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${source}: must be a mapping`);
  // Lets the Worker's start errors name the file.
  return { ...value, "x-source": source };
});
const json = JSON.stringify(registrations);

if (process.argv.includes("--dev-vars")) {
  const devVars = path.join(root, ".dev.vars");
  const lines = existsSync(devVars) ? readFileSync(devVars, "utf8").split("\n").filter((l) => !l.startsWith("APPSERVICES=")) : [];
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.push(`APPSERVICES='${json}'`, "");
  writeFileSync(devVars, lines.join("\n"));
  console.error(`.dev.vars: APPSERVICES set from ${files.length} registration file(s)`);
} else {
  process.stdout.write(`${json}\n`);
}
