/**
 * Validates homeserver HTTP traffic against the official Matrix client-server
 * OpenAPI definitions (matrix-spec `data/api/client-server/*.yaml`).
 *
 * The spec checkout is optional: point `MATRIX_SPEC_DIR` at a matrix-spec
 * checkout (the directory containing `data/`; `data/` itself or
 * `data/api/client-server` are accepted too). When it is missing,
 * `specAvailable()` is false and tests should skip with `specUnavailableReason`.
 *
 * Everything is loaded lazily: YAML files are parsed once, every referenced
 * schema is registered once with a shared Ajv (JSON Schema 2020-12) instance
 * and compiled on first use.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import Ajv2020 from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// ---------------------------------------------------------------------------
// Locating the spec

function locateClientServerDir(root: string): string | undefined {
  for (const candidate of [
    join(root, "data", "api", "client-server"),
    join(root, "api", "client-server"),
    root,
  ]) {
    if (isDir(candidate) && existsSync(join(candidate, "versions.yaml"))) return candidate;
  }
  return undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const envSpecDir = process.env["MATRIX_SPEC_DIR"]?.trim() || undefined;
const clientServerDir = envSpecDir ? locateClientServerDir(resolve(envSpecDir)) : undefined;

/** The matrix-spec checkout from `MATRIX_SPEC_DIR`; undefined if unset or not found on disk. */
export const specDir: string | undefined = clientServerDir && envSpecDir ? resolve(envSpecDir) : undefined;

/** Human-readable reason why the spec is unavailable (undefined when it is available). */
export const specUnavailableReason: string | undefined = specDir
  ? undefined
  : envSpecDir
    ? `MATRIX_SPEC_DIR=${envSpecDir} does not contain data/api/client-server/*.yaml; skipping Matrix OpenAPI validation`
    : "MATRIX_SPEC_DIR is not set; skipping Matrix OpenAPI validation";

export function specAvailable(): boolean {
  return specDir !== undefined;
}

function requireSpec(): string {
  if (!clientServerDir) throw new Error(specUnavailableReason ?? "Matrix spec unavailable");
  return clientServerDir;
}

// ---------------------------------------------------------------------------
// YAML loading and $ref resolution

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const fileCache = new Map<string, Json>();

function loadFile(file: string): Json {
  let doc = fileCache.get(file);
  if (doc === undefined) {
    const text = readFileSync(file, "utf8");
    // Example files under event-schemas/examples are .json; YAML is a superset.
    doc = parseYaml(text, { uniqueKeys: false, maxAliasCount: -1 }) as Json;
    fileCache.set(file, doc);
  }
  return doc;
}

/** A location in the spec: absolute file path + JSON pointer ("" = whole document). */
interface Loc {
  file: string;
  pointer: string;
}

function locKey(loc: Loc): string {
  return `${loc.file}#${loc.pointer}`;
}

function child(loc: Loc, ...keys: string[]): Loc {
  return {
    file: loc.file,
    pointer: loc.pointer + keys.map((k) => "/" + k.replace(/~/g, "~0").replace(/\//g, "~1")).join(""),
  };
}

function getAt(loc: Loc): Json {
  let node = loadFile(loc.file);
  if (loc.pointer === "") return node;
  if (!loc.pointer.startsWith("/")) throw new Error(`Unsupported JSON pointer "${loc.pointer}" in ${loc.file}`);
  for (const raw of loc.pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      const next = node[Number(key)];
      if (next === undefined) throw new Error(`Unresolvable pointer ${locKey(loc)}`);
      node = next;
    } else if (isObject(node) && Object.prototype.hasOwnProperty.call(node, key)) {
      node = node[key] as Json;
    } else {
      throw new Error(`Unresolvable pointer ${locKey(loc)}`);
    }
  }
  return node;
}

function resolveRef(from: string, ref: string): Loc {
  const hash = ref.indexOf("#");
  const filePart = hash === -1 ? ref : ref.slice(0, hash);
  const fragment = hash === -1 ? "" : decodeURIComponent(ref.slice(hash + 1));
  const file = filePart ? resolve(dirname(from), decodeURIComponent(filePart)) : from;
  return { file, pointer: fragment };
}

/** Follows `$ref` chains for non-schema objects (responses, request bodies, …). */
function deref(loc: Loc): { loc: Loc; node: Json } {
  let node = getAt(loc);
  for (let hops = 0; isObject(node) && typeof node["$ref"] === "string"; hops++) {
    if (hops > 32) throw new Error(`$ref cycle at ${locKey(loc)}`);
    loc = resolveRef(loc.file, node["$ref"]);
    node = getAt(loc);
  }
  return { loc, node };
}

// ---------------------------------------------------------------------------
// Schema conversion + Ajv

/** Keywords whose value is a map name -> schema. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
/** Keywords whose value is an array of schemas. */
const SCHEMA_ARRAYS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
/** Keywords whose value is a single schema. */
const SCHEMA_SINGLE = new Set([
  "items",
  "additionalItems",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "not",
  "if",
  "then",
  "else",
  "contains",
  "propertyNames",
  "contentSchema",
]);
/** Annotations that are dropped (they carry data, not constraints). */
const DROPPED = new Set(["example", "examples", "$schema", "$id", "$comment", "nullable", "discriminator", "xml", "externalDocs"]);

const ID_BASE = "https://matrix-spec.invalid/schema/";

let ajvInstance: Ajv2020 | undefined;
const schemaIds = new Map<string, string>();

function ajv(): Ajv2020 {
  if (!ajvInstance) {
    const instance = new Ajv2020({
      strict: false,
      allErrors: true,
      unicodeRegExp: false,
      validateFormats: true,
    });
    addFormats(instance);
    // Matrix string formats (data/string-formats.yaml); the spec only gives prefix hints.
    const formats: Record<string, RegExp> = {
      "mx-user-id": /^@/,
      "mx-event-id": /^\$/,
      "mx-room-id": /^!/,
      "mx-room-alias": /^#/,
      "mx-mxc-uri": /^mxc:\/\//,
      "mx-server-name": /^\S+$/,
      "mx-unpadded-base64": /^[A-Za-z0-9+/]*$/,
      "mx-urlsafe-unpadded-base64": /^[A-Za-z0-9_-]*$/,
    };
    for (const [name, re] of Object.entries(formats)) instance.addFormat(name, re);
    ajvInstance = instance;
  }
  return ajvInstance;
}

/** Registers the schema at `loc` (and everything it references) with Ajv; returns its id. */
function schemaId(loc: Loc): string {
  const key = locKey(loc);
  let id = schemaIds.get(key);
  if (id === undefined) {
    id = `${ID_BASE}${schemaIds.size}`;
    schemaIds.set(key, id); // before converting: protects against reference cycles
    const converted = convertSchema(getAt(loc), loc.file);
    ajv().addSchema(typeof converted === "boolean" ? converted : { ...(converted as JsonObject), $id: id }, id);
  }
  return id;
}

function convertSchema(node: Json, file: string): Json {
  if (typeof node === "boolean") return node;
  if (!isObject(node)) return {}; // malformed schema: accept anything rather than crash
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key) || key.startsWith("x-")) continue;
    if (key === "$ref" && typeof value === "string") {
      out["$ref"] = schemaId(resolveRef(file, value));
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convertSchema(v, file)]));
    } else if (SCHEMA_ARRAYS.has(key) && Array.isArray(value)) {
      out[key] = value.map((v) => convertSchema(v, file));
    } else if (key === "items" && Array.isArray(value)) {
      out["prefixItems"] = value.map((v) => convertSchema(v, file)); // draft-04 tuple form
    } else if (SCHEMA_SINGLE.has(key) && (isObject(value) || typeof value === "boolean")) {
      out[key] = convertSchema(value, file);
    } else {
      out[key] = value; // type, enum, const, required, pattern, format, title, description, ...
    }
  }
  // OpenAPI 3.0 style `nullable: true`.
  if (node["nullable"] === true) {
    const type = out["type"];
    if (typeof type === "string") out["type"] = [type, "null"];
    else if (Array.isArray(type) && !type.includes("null")) out["type"] = [...type, "null"];
    if (Array.isArray(out["enum"]) && !out["enum"].includes(null)) out["enum"] = [...out["enum"], null];
  }
  return out;
}

function validatorFor(loc: Loc): ValidateFunction {
  const id = schemaId(loc);
  const validate = ajv().getSchema(id);
  if (!validate) throw new Error(`Could not compile schema ${locKey(loc)}`);
  return validate;
}

// ---------------------------------------------------------------------------
// Operation lookup

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

interface Operation {
  method: string;
  template: string; // full path template incl. base path
  regex: RegExp;
  literalLength: number;
  loc: Loc; // location of the operation object
}

let operations: Operation[] | undefined;

function basePathsOf(servers: Json | undefined): string[] | undefined {
  if (!Array.isArray(servers) || servers.length === 0) return undefined;
  const result = new Set<string>();
  for (const server of servers) {
    if (!isObject(server) || typeof server["url"] !== "string") continue;
    // Expand {variables} using default + enum values; keep only the path part.
    let urls = [server["url"]];
    const vars = isObject(server["variables"]) ? server["variables"] : {};
    for (const [name, def] of Object.entries(vars)) {
      if (!isObject(def)) continue;
      const values = new Set<string>();
      if (typeof def["default"] === "string") values.add(def["default"]);
      if (Array.isArray(def["enum"])) for (const v of def["enum"]) if (typeof v === "string") values.add(v);
      urls = urls.flatMap((u) => [...values].map((v) => u.split(`{${name}}`).join(v)));
    }
    for (const url of urls) {
      const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(.*)$/i.exec(url);
      result.add((m ? m[1] ?? "" : url).replace(/\/+$/, ""));
    }
  }
  return [...result];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function loadOperations(): Operation[] {
  if (operations) return operations;
  const dir = requireSpec();
  const ops: Operation[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
  for (const name of files) {
    const file = join(dir, name);
    const doc = loadFile(file);
    if (!isObject(doc) || !isObject(doc["paths"])) continue;
    const docBases = basePathsOf(doc["servers"]) ?? [""];
    for (const [pathTemplate, item] of Object.entries(doc["paths"])) {
      if (!isObject(item)) continue;
      const itemBases = basePathsOf(item["servers"]) ?? docBases;
      for (const method of METHODS) {
        const op = item[method];
        if (!isObject(op)) continue;
        const bases = basePathsOf(op["servers"]) ?? itemBases;
        for (const base of bases) {
          // Trimmed: the spec disambiguates duplicate paths with a trailing space (peeking_events.yaml "/events ").
          const template = base + pathTemplate.trim();
          let literalLength = 0;
          const source = template
            .split(/(\{[^}]*\})/)
            .map((part) => {
              if (/^\{[^}]*\}$/.test(part)) return "([^/]*)";
              literalLength += part.length;
              return escapeRegex(part);
            })
            .join("");
          ops.push({
            method,
            template,
            regex: new RegExp(`^${source}$`),
            literalLength,
            loc: { file, pointer: `/paths/${pathTemplate.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}` },
          });
        }
      }
    }
  }
  operations = ops;
  return ops;
}

function normalisePath(path: string): string {
  let p = path;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) p = new URL(p).pathname;
  const cut = p.search(/[?#]/);
  if (cut !== -1) p = p.slice(0, cut);
  return p.startsWith("/") ? p : "/" + p;
}

const operationCache = new Map<string, Operation[]>();

/** The most specific operations matching method + path (several only if the spec documents duplicates). */
function findOperations(method: string, rawPath: string): Operation[] {
  const m = method.toLowerCase();
  const path = normalisePath(rawPath);
  const cacheKey = `${m} ${path}`;
  const cached = operationCache.get(cacheKey);
  if (cached) return cached;

  const ops = loadOperations();
  const match = (p: string) => ops.filter((op) => op.regex.test(p));
  let candidates = match(path);
  // The spec makes trailing slashes optional in places (e.g. empty state keys); try both forms.
  if (candidates.length === 0) candidates = match(path.endsWith("/") ? path.replace(/\/+$/, "") : path + "/");
  if (candidates.length === 0) {
    throw new Error(`No Matrix client-server OpenAPI path matches ${method.toUpperCase()} ${path}`);
  }
  const withMethod = candidates.filter((op) => op.method === m);
  if (withMethod.length === 0) {
    const documented = [...new Set(candidates.map((op) => `${op.method.toUpperCase()} ${op.template}`))];
    throw new Error(
      `No ${method.toUpperCase()} operation documented for ${path}; documented: ${documented.join(", ")}`,
    );
  }
  // Most specific template wins (most literal characters, then fewest parameters).
  const rank = (op: Operation) => op.literalLength * 1000 - op.template.split("{").length;
  const top = Math.max(...withMethod.map(rank));
  const best = withMethod.filter((op) => rank(op) === top);
  operationCache.set(cacheKey, best);
  return best;
}

/** Runs `check` against each candidate operation; passes if any passes, else throws all failures. */
function checkAny(ops: Operation[], check: (op: Operation) => string | undefined): void {
  const failures: string[] = [];
  for (const op of ops) {
    const failure = check(op);
    if (failure === undefined) return;
    failures.push(failure);
  }
  throw new Error(failures.join("\n\n--- nor ---\n\n"));
}

function failureOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function describeOp(op: Operation): string {
  const file = op.loc.file.slice(op.loc.file.lastIndexOf("/") + 1);
  return `${op.method.toUpperCase()} ${op.template} (${file})`;
}

/** Picks the JSON media type of a content map; returns its location, or undefined if none. */
function jsonContent(loc: Loc, node: JsonObject): { loc: Loc; node: JsonObject } | undefined {
  const content = node["content"];
  if (!isObject(content)) return undefined;
  const types = Object.keys(content);
  const type =
    types.find((t) => t === "application/json") ?? types.find((t) => /^application\/([\w.+-]+\+)?json\b/.test(t));
  if (type === undefined) return undefined;
  const media = deref(child(loc, "content", type));
  return isObject(media.node) ? { loc: media.loc, node: media.node } : undefined;
}

function findResponse(op: Operation, status: number): { loc: Loc; node: JsonObject; key: string } {
  const opNode = getAt(op.loc);
  const responses = isObject(opNode) ? opNode["responses"] : undefined;
  if (!isObject(responses)) throw new Error(`${describeOp(op)} documents no responses`);
  const keys = [String(status), `${Math.floor(status / 100)}XX`, `${Math.floor(status / 100)}xx`, "default"];
  const key = keys.find((k) => Object.prototype.hasOwnProperty.call(responses, k));
  if (key === undefined) {
    throw new Error(
      `${describeOp(op)} documents no response for status ${status} (documented: ${Object.keys(responses).join(", ")})`,
    );
  }
  const { loc, node } = deref(child(op.loc, "responses", key));
  if (!isObject(node)) throw new Error(`${describeOp(op)}: malformed response ${key}`);
  return { loc, node, key };
}

// ---------------------------------------------------------------------------
// Public validation API

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  const lines = (errors ?? []).slice(0, 40).map((e) => {
    const where = e.instancePath || "(root)";
    const params = e.params as Record<string, unknown>;
    let extra = "";
    if (e.keyword === "additionalProperties") extra = ` (${String(params["additionalProperty"])})`;
    else if (e.keyword === "enum") extra = ` (${JSON.stringify(params["allowedValues"])})`;
    else if (e.keyword === "const") extra = ` (${JSON.stringify(params["allowedValue"])})`;
    return `  - ${where}: ${e.message ?? e.keyword}${extra}  [schema ${e.schemaPath}]`;
  });
  if ((errors?.length ?? 0) > 40) lines.push(`  … and ${(errors?.length ?? 0) - 40} more`);
  return lines.join("\n");
}

function formatBody(body: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(body, null, 2) ?? String(body);
  } catch {
    text = String(body);
  }
  return text.length > 4000 ? text.slice(0, 4000) + "\n… (truncated)" : text;
}

function isEmptyBody(body: unknown): boolean {
  return body === undefined || body === null || body === "";
}

/**
 * Validates a response body. `path` is the concrete request path as called
 * (e.g. "/_matrix/client/v3/profile/@a:b/displayname"; a query string or full
 * URL is tolerated). Throws a readable Error if the body does not match the
 * documented schema, or if nothing is documented for that method/path/status.
 */
export function validateResponse(method: string, path: string, status: number, body: unknown): void {
  checkAny(findOperations(method, path), (op) => failureOf(() => checkResponse(op, status, body)));
}

function checkResponse(op: Operation, status: number, body: unknown): void {
  const response = findResponse(op, status);
  const media = jsonContent(response.loc, response.node);
  const what = `${describeOp(op)} → ${status}${response.key === String(status) ? "" : ` (via "${response.key}")`}`;
  if (!media) {
    // Documented without a body (e.g. a redirect): only an empty body conforms.
    if (response.node["content"] === undefined && isEmptyBody(body)) return;
    const types = isObject(response.node["content"]) ? Object.keys(response.node["content"]).join(", ") : "none";
    throw new Error(`${what}: no JSON response schema documented (content types: ${types})\nbody:\n${formatBody(body)}`);
  }
  if (media.node["schema"] === undefined) throw new Error(`${what}: JSON response documented without a schema`);
  const validate = validatorFor(child(media.loc, "schema"));
  if (!validate(body)) {
    throw new Error(`${what}: response body does not match the spec:\n${formatErrors(validate.errors)}\nbody:\n${formatBody(body)}`);
  }
}

/** Same as {@link validateResponse}, for a request body against the operation's requestBody schema. */
export function validateRequest(method: string, path: string, body: unknown): void {
  checkAny(findOperations(method, path), (op) => failureOf(() => checkRequest(op, body)));
}

function checkRequest(op: Operation, body: unknown): void {
  const opNode = getAt(op.loc);
  const what = `${describeOp(op)} request`;
  if (!isObject(opNode) || opNode["requestBody"] === undefined) {
    if (isEmptyBody(body)) return;
    throw new Error(`${what}: no request body documented\nbody:\n${formatBody(body)}`);
  }
  const requestBody = deref(child(op.loc, "requestBody"));
  if (!isObject(requestBody.node)) throw new Error(`${what}: malformed requestBody`);
  if (body === undefined && requestBody.node["required"] !== true) return;
  const media = jsonContent(requestBody.loc, requestBody.node);
  if (!media || media.node["schema"] === undefined) {
    const types = isObject(requestBody.node["content"]) ? Object.keys(requestBody.node["content"]).join(", ") : "none";
    throw new Error(`${what}: no JSON request schema documented (content types: ${types})`);
  }
  const validate = validatorFor(child(media.loc, "schema"));
  if (!validate(body)) {
    throw new Error(`${what}: body does not match the spec:\n${formatErrors(validate.errors)}\nbody:\n${formatBody(body)}`);
  }
}

/**
 * The documented JSON examples (`example` / `examples[*].value`) of a response,
 * with the spec's example `$ref`s (e.g. to event-schemas/examples/*) expanded:
 * the referenced object is used as a base and sibling keys override it.
 */
export function responseExamples(method: string, path: string, status: number): unknown[] {
  const result: unknown[] = [];
  const ops = findOperations(method, path);
  const failures = ops.map((op) => failureOf(() => collectExamples(op, status, result)));
  if (failures.every((f) => f !== undefined)) throw new Error(failures.join("\n"));
  return result;
}

function collectExamples(op: Operation, status: number, result: unknown[]): void {
  const response = findResponse(op, status);
  const media = jsonContent(response.loc, response.node);
  if (!media) return;
  if (media.node["example"] !== undefined) result.push(expandExample(media.node["example"], media.loc.file, 0));
  const examples = media.node["examples"];
  if (isObject(examples)) {
    for (const name of Object.keys(examples)) {
      const ex = deref(child(media.loc, "examples", name));
      if (isObject(ex.node) && ex.node["value"] !== undefined) result.push(expandExample(ex.node["value"], ex.loc.file, 0));
    }
  }
}

function expandExample(node: Json, file: string, depth: number): Json {
  if (depth > 32) throw new Error(`Example $ref nesting too deep in ${file}`);
  if (Array.isArray(node)) return node.map((v) => expandExample(v, file, depth));
  if (!isObject(node)) return node;
  let out: JsonObject = {};
  const ref = node["$ref"];
  if (typeof ref === "string") {
    const target = resolveRef(file, ref);
    const base = expandExample(getAt(target), target.file, depth + 1);
    if (isObject(base)) out = { ...base };
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === "$ref" && typeof value === "string") continue;
    out[key] = expandExample(value, file, depth);
  }
  return out;
}
