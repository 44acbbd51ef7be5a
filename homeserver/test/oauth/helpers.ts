import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";
import { type TestUser, registerUser } from "../helpers";

/** Raw requests against the Worker for the OAuth endpoints (HTML pages, form bodies), with a cookie jar. */

export class CookieJar {
  private cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }
}

export interface RawOptions {
  form?: Record<string, string>;
  json?: unknown;
  rawBody?: string;
  contentType?: string;
  jar?: CookieJar;
  headers?: Record<string, string>;
  env?: Partial<Record<keyof Env, unknown>>;
}

export interface RawResult {
  status: number;
  text: string;
  headers: Headers;
  json: () => Record<string, unknown>;
}

export async function raw(method: string, path: string, opts: RawOptions = {}): Promise<RawResult> {
  const headers = new Headers(opts.headers);
  let body: string | undefined;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers.set("content-type", "application/x-www-form-urlencoded");
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers.set("content-type", "application/json");
  } else if (opts.rawBody !== undefined) {
    body = opts.rawBody;
  }
  if (opts.contentType) headers.set("content-type", opts.contentType);
  if (opts.jar) headers.set("cookie", opts.jar.header());
  const ctx = createExecutionContext();
  const testEnv = opts.env ? ({ ...env, ...opts.env } as Env) : env;
  const response = await worker.fetch(new Request(`http://localhost${path}`, { method, headers, body, redirect: "manual" }), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  opts.jar?.store(response.headers);
  const text = await response.text();
  return { status: response.status, text, headers: response.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

export function expectOAuthError(res: RawResult, status: number, error: string): void {
  expect({ status: res.status, error: res.json()["error"] }).toEqual({ status, error });
}

/** The CSRF token of a rendered form. */
export function csrfOf(html: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no CSRF token in page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

/** The authorization request carried in a page's hidden field (HTML-unescaped). */
export function requestOf(html: string): string {
  const match = /name="request" value="([^"]*)"/.exec(html);
  if (!match) throw new Error("no request field in page");
  return match[1]!.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

export const WEB_CLIENT = {
  client_name: "Test Client",
  client_uri: "https://client.example/",
  redirect_uris: ["https://client.example/callback"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  application_type: "web",
};

export async function registerClient(metadata: Record<string, unknown> = WEB_CLIENT): Promise<string> {
  const res = await raw("POST", "/oauth2/register", { json: metadata });
  expect(res.status).toBe(201);
  return res.json()["client_id"] as string;
}

export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  const b64url = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const verifier = b64url(bytes);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  return { verifier, challenge };
}

export interface AuthParams {
  clientId: string;
  redirectUri?: string;
  challenge: string;
  deviceId?: string;
  state?: string;
  extra?: Record<string, string>;
}

export function authQuery(p: AuthParams): string {
  return new URLSearchParams({
    response_type: "code",
    client_id: p.clientId,
    redirect_uri: p.redirectUri ?? WEB_CLIENT.redirect_uris[0]!,
    scope: `urn:matrix:client:api:* urn:matrix:client:device:${p.deviceId ?? "OAUTHDEV01"}`,
    state: p.state ?? "state123",
    code_challenge: p.challenge,
    code_challenge_method: "S256",
    response_mode: "query",
    ...p.extra,
  }).toString();
}

/** Signs in through the login page and allows access; returns the callback URL the browser is sent to. */
export async function signInAndConsent(user: TestUser, query: string, jar = new CookieJar()): Promise<URL> {
  const page = await raw("GET", `/oauth2/auth?${query}`, { jar });
  expect(page.status).toBe(200);
  const consent = await raw("POST", "/oauth2/auth/login", {
    jar,
    form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: user.userId, password: user.password },
  });
  expect(consent.status).toBe(200);
  expect(consent.text).toContain("Allow access?");
  const done = await raw("POST", "/oauth2/auth/consent", {
    jar,
    form: { csrf_token: csrfOf(consent.text), request: requestOf(consent.text), decision: "allow" },
  });
  expect(done.status).toBe(303);
  return new URL(done.headers.get("location")!);
}

export interface Authorized {
  user: TestUser;
  clientId: string;
  code: string;
  verifier: string;
  deviceId: string;
}

/** A user, a registered client and a fresh authorization code for it. */
export async function authorizedCode(deviceId = `DEV${Math.random().toString(36).slice(2, 10).toUpperCase()}`): Promise<Authorized> {
  const user = await registerUser("oauth");
  const clientId = await registerClient();
  const { verifier, challenge } = await pkcePair();
  const callback = await signInAndConsent(user, authQuery({ clientId, challenge, deviceId }));
  return { user, clientId, code: callback.searchParams.get("code")!, verifier, deviceId };
}

export function exchange(a: Authorized, overrides: Record<string, string> = {}): Promise<RawResult> {
  return raw("POST", "/oauth2/token", {
    form: {
      grant_type: "authorization_code",
      code: a.code,
      redirect_uri: WEB_CLIENT.redirect_uris[0]!,
      client_id: a.clientId,
      code_verifier: a.verifier,
      ...overrides,
    },
  });
}

export async function whoami(token: string): Promise<number> {
  return (await raw("GET", "/_matrix/client/v3/account/whoami", { headers: { authorization: `Bearer ${token}` } })).status;
}
