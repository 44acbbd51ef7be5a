import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../src/index";

export interface CallOptions {
  body?: unknown;
  /** Sent as is, for malformed-input tests. */
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
  /** Overrides of the Worker's environment, e.g. `{ REGISTRATION: "closed" }`. */
  env?: Partial<Record<keyof Env, unknown>>;
}

export interface CallResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

let counter = 0;
/** A localpart no other test uses. */
export function uniqueName(prefix = "user"): string {
  return `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Calls the real Worker's fetch handler in this isolate, as a client would over HTTP. */
export async function call<T = Record<string, unknown>>(method: string, path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  const request = new Request(`http://localhost${path}`, { method, headers, body });
  const ctx = createExecutionContext();
  const testEnv = opts.env ? ({ ...env, ...opts.env } as Env) : env;
  const response = await worker.fetch(request, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, body: parseJsonOrEmpty(text) as T, headers: response.headers };
}

/** Non-JSON answers (media bytes, HTML pages) come back as an empty body; tests of those read the raw response. */
function parseJsonOrEmpty(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}

/** Asserts a Matrix error response. */
export function expectError(res: CallResult, status: number, errcode: string): void {
  expect({ status: res.status, errcode: res.body["errcode"] }).toEqual({ status, errcode });
  expect(typeof res.body["error"]).toBe("string");
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

/** Registers a fresh user through the real registration endpoint. */
export async function registerUser(prefix = "user", password = "correct horse battery staple"): Promise<TestUser> {
  const username = uniqueName(prefix);
  const res = await call("POST", "/_matrix/client/v3/register", {
    body: { username, password, auth: { type: "m.login.dummy" } },
  });
  expect(res.status).toBe(200);
  return {
    userId: res.body["user_id"] as string,
    accessToken: res.body["access_token"] as string,
    deviceId: res.body["device_id"] as string,
    password,
  };
}
