import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { MatrixError } from "../http/errors";
import type { AppEnv } from "../http/types";
import { readCappedText } from "../http/validate";
import { deleteBrowserSession, getBrowserSessionUser, insertBrowserSession } from "../storage/oauth";
import { equalSecrets, hashToken } from "../util/hash";
import { randomToken } from "../util/random";
import { OAuthError } from "./errors";

/** The homeserver's own pages: the sign-in cookie and the CSRF double-submit cookie. */

const SESSION_COOKIE = "mx_session";
const CSRF_COOKIE = "mx_csrf";
const BROWSER_SESSION_MS = 12 * 3600_000;

const secure = (c: Context<AppEnv>) => c.var.config.PUBLIC_BASEURL.startsWith("https:");

/**
 * The CSRF token of this browser (double submit): a random value in a SameSite=Strict, HttpOnly cookie, repeated in
 * every form. Set on the first page shown; a cross-site form post can neither read it nor send the cookie.
 */
export function csrfToken(c: Context<AppEnv>): string {
  const existing = getCookie(c, CSRF_COOKIE);
  if (existing && /^mcs_[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomToken("mcs");
  setCookie(c, CSRF_COOKIE, token, { path: "/", httpOnly: true, sameSite: "Strict", secure: secure(c) });
  return token;
}

/** Reads an urlencoded form body (size-capped) and checks its CSRF token against the cookie. */
export async function readForm(c: Context<AppEnv>, { csrf }: { csrf: boolean }): Promise<URLSearchParams> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    throw new OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded");
  }
  let text: string;
  try {
    text = await readCappedText(c);
  } catch (err) {
    if (err instanceof MatrixError) throw new OAuthError("invalid_request", err.message, 413);
    throw err;
  }
  const form = new URLSearchParams(text);
  if (csrf) {
    const cookie = getCookie(c, CSRF_COOKIE);
    const sent = form.get("csrf_token");
    if (!cookie || !sent || !(await equalSecrets(cookie, sent))) {
      throw new OAuthError("invalid_request", "The form has expired or did not come from this site. Go back, reload the page and try again.", 403);
    }
  }
  return form;
}

/** A form field as one string: absent or repeated fields are refused (so a value cannot be smuggled in twice). */
export function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new OAuthError("invalid_request", `Parameter ${name} was given more than once`);
  return values[0];
}

export interface BrowserSession {
  userId: string;
  sessionHash: string;
}

export async function browserSession(c: Context<AppEnv>): Promise<BrowserSession | null> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token || token.length > 100) return null;
  const sessionHash = await hashToken(token);
  const userId = await getBrowserSessionUser(c.env.DB, sessionHash);
  return userId ? { userId, sessionHash } : null;
}

/** Signs the browser in (a new session id each time, so a planted cookie is never promoted). */
export async function signIn(c: Context<AppEnv>, userId: string): Promise<BrowserSession> {
  const token = randomToken("mbs");
  const sessionHash = await hashToken(token);
  await insertBrowserSession(c.env.DB, sessionHash, userId, Date.now() + BROWSER_SESSION_MS);
  // Lax: the cookie must come along when a client sends the browser here by a top-level link.
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: secure(c),
    maxAge: BROWSER_SESSION_MS / 1000,
  });
  return { userId, sessionHash };
}

export async function signOut(c: Context<AppEnv>): Promise<void> {
  const session = await browserSession(c);
  if (session) await deleteBrowserSession(c.env.DB, session.sessionHash);
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secure(c) });
}
