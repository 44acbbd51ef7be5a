/**
 * Canonical JSON (appendices: "Signing JSON" > "Canonical JSON"): the one byte encoding of a JSON value that
 * hashes and signatures are computed over. Shortest UTF-8 JSON, object keys sorted by Unicode code point,
 * numbers only as integers in [-(2**53)+1, (2**53)-1]. Room versions 6+ require this strictly.
 */

export class CanonicalJsonError extends Error {
  override name = "CanonicalJsonError";
}

/** The largest integer canonical JSON allows, (2**53)-1; the smallest is its negation. */
const MAX_INTEGER = Number.MAX_SAFE_INTEGER;

/** A lone UTF-16 surrogate: a string JSON can escape but UTF-8 cannot encode, so no canonical form exists. */
const LONE_SURROGATE = /\p{Cs}/u;

export function canonicalJson(value: unknown): string {
  return encode(value, "$");
}

/** The canonical JSON as the UTF-8 bytes that are hashed and signed. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/** `path` names the offending value in error messages, e.g. `$.content.users[0]`. */
function encode(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return encodeNumber(value, path);
    case "string":
      return encodeString(value, path);
    case "object":
      if (Array.isArray(value)) return `[${value.map((item, i) => encode(item, `${path}[${i}]`)).join(",")}]`;
      return encodeObject(value, path);
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not a JSON value`);
  }
}

function encodeNumber(n: number, path: string): string {
  if (!Number.isInteger(n)) throw new CanonicalJsonError(`${path}: ${n} is not an integer`);
  if (Math.abs(n) > MAX_INTEGER) throw new CanonicalJsonError(`${path}: ${n} is out of the integer range`);
  // String() never uses exponents below 1e21 and writes -0 as "0", which the spec's own example expects.
  return String(n);
}

/**
 * JSON.stringify already emits exactly the spec's grammar for well-formed strings: only `"`, `\` and C0 controls
 * are escaped, with the short escapes where they exist and lower-case `\u00XX` otherwise.
 */
function encodeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(`${path}: string has a lone surrogate`);
  return JSON.stringify(s);
}

function encodeObject(value: object, path: string): string {
  const proto: unknown = Object.getPrototypeOf(value);
  // Dates, byte arrays, maps and the like have no single JSON form; refusing them catches bugs early.
  if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError(`${path}: not a plain object`);
  const members: string[] = [];
  for (const key of Object.keys(value).sort(compareCodePoints)) {
    const member: unknown = (value as Record<string, unknown>)[key];
    // Absent optional fields (`state_key: undefined`) vanish, as in JSON.stringify, so that the hash of an object
    // matches the hash of the JSON it is sent as.
    if (member === undefined) continue;
    members.push(`${encodeString(key, path)}:${encode(member, `${path}.${key}`)}`);
  }
  return `{${members.join(",")}}`;
}

/**
 * Orders strings by Unicode code point. Plain `<` compares UTF-16 code units, which puts astral characters
 * (stored as surrogates, 0xD800-0xDFFF) before U+E000-U+FFFF; code point order puts them after.
 */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates above every other code unit, keeping each group's own order. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
