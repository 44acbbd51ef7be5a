import type { Context } from "hono";
import type { z } from "zod";
import { MatrixError, badJson, invalidParam, missingParam } from "./errors";
import type { AppEnv } from "./types";
import { readStreamCapped } from "../util/read-stream";

/** Reads the request body as text, refusing anything over the configured limit (counted on bytes received). */
export async function readCappedText(c: Context<AppEnv>): Promise<string> {
  const limit = c.var.config.MAX_REQUEST_BYTES;
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return "";
  const bytes = await readStreamCapped(body, limit, () => tooLarge(limit));
  return new TextDecoder().decode(bytes);
}

const tooLarge = (limit: number) => new MatrixError(413, "M_TOO_LARGE", `Request body is over ${limit} bytes`);

/** Parses a JSON object body; an empty body counts as `{}` only when `allowEmpty` (several endpoints take none). */
export async function readJson(c: Context<AppEnv>, allowEmpty = false): Promise<unknown> {
  const text = await readCappedText(c);
  if (text.trim() === "" && allowEmpty) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MatrixError(400, "M_NOT_JSON", "Request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MatrixError(400, "M_NOT_JSON", "Request body must be a JSON object");
  }
  return value;
}

/** Parses and validates a JSON body against a zod schema, answering the spec's error codes. */
export async function parseBody<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  options: { allowEmpty?: boolean } = {},
): Promise<z.infer<S>> {
  return check(schema, await readJson(c, options.allowEmpty), "body");
}

/** Validates query parameters against a zod schema. */
export function parseQuery<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  return check(schema, c.req.query(), "query");
}

/** Runs a schema and maps the first problem to M_MISSING_PARAM, M_BAD_JSON (body) or M_INVALID_PARAM (query). */
export function check<S extends z.ZodType>(schema: S, value: unknown, where: "body" | "query"): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".") || "(root)";
  // Whatever zod calls it (invalid_type, invalid_value for enums...), an absent required value is a missing one.
  if (valueAt(value, issue.path) === undefined && issue.path.length > 0) {
    throw missingParam(`Missing ${where === "body" ? "field" : "parameter"} '${path}'`);
  }
  const message = `Invalid ${where === "body" ? "field" : "parameter"} '${path}': ${issue.message}`;
  throw where === "body" ? badJson(message) : invalidParam(message);
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
