import type { Context } from "hono";
import { MatrixError } from "../http/errors";
import { clientIp, rateLimit } from "../http/ratelimit";
import type { AppEnv } from "../http/types";
import { checkUserNotReserved } from "../appservice/policy";
import { checkUsernameAvailable, createAccount } from "../services/accounts";
import { equalSecrets } from "../util/hash";
import { type AuthorizationRequest, callbackUrl, clientView, parseAuthorizationRequest } from "./authorization-request";
import { browserSession, csrfToken, readForm, signIn, signOut, single } from "./browser";
import { OAuthError } from "./errors";
import { checkTypedPassword, pageApp } from "./page-app";
import { consentPage, errorPage, loginPage, registerPage } from "./pages";
import { existingDeviceName, getClient, issueCode } from "./provider";

type Ctx = Context<AppEnv>;

const registrationOpen = (c: Ctx) => c.var.config.REGISTRATION !== "closed";

/** Parses the request (from the query, or the hidden field of a form) and answers errors as RFC 6749 says. */
async function withRequest(c: Ctx, query: string, show: (request: AuthorizationRequest) => Promise<Response>): Promise<Response> {
  const parsed = await parseAuthorizationRequest(query, (id) => getClient(c.env.DB, id));
  if (parsed.kind === "fatal") return c.html(errorPage(parsed.message), 400);
  if (parsed.kind === "redirect") return c.redirect(parsed.location, 303);
  return show(parsed.request);
}

function showLogin(c: Ctx, r: AuthorizationRequest, extra: { error?: string; username?: string; status?: 200 | 401 | 429 } = {}): Response | Promise<Response> {
  const registerHref = registrationOpen(c) ? `/oauth2/auth?${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(r.query)), prompt: "create" })}` : undefined;
  return c.html(
    loginPage({
      action: "/oauth2/auth/login",
      csrf: csrfToken(c),
      hidden: { request: r.query },
      client: clientView(r.client, c.req.header("accept-language")),
      serverName: c.var.config.SERVER_NAME,
      error: extra.error,
      username: extra.username,
      registerHref,
    }),
    extra.status ?? 200,
  );
}

function showRegister(c: Ctx, r: AuthorizationRequest, extra: { error?: string; username?: string; status?: 200 | 400 | 429 } = {}): Response | Promise<Response> {
  return c.html(
    registerPage({
      action: "/oauth2/auth/register",
      csrf: csrfToken(c),
      hidden: { request: r.query },
      client: clientView(r.client, c.req.header("accept-language")),
      serverName: c.var.config.SERVER_NAME,
      error: extra.error,
      username: extra.username,
      needsToken: c.var.config.REGISTRATION === "token",
    }),
    extra.status ?? 200,
  );
}

async function showConsent(c: Ctx, r: AuthorizationRequest, userId: string): Promise<Response> {
  return c.html(
    consentPage({
      csrf: csrfToken(c),
      hidden: { request: r.query },
      client: clientView(r.client, c.req.header("accept-language")),
      userId,
      deviceId: r.grant.deviceId,
      replaces: await existingDeviceName(c.env.DB, userId, r.grant.deviceId),
    }),
  );
}

/** Reads a posted form of the flow: CSRF-checked, with the authorization request it carries. */
async function postedRequest(c: Ctx): Promise<{ form: URLSearchParams; query: string }> {
  const form = await readForm(c, { csrf: true });
  const query = single(form, "request");
  if (query === undefined) throw new OAuthError("invalid_request", "The form is missing the authorization request.");
  return { form, query };
}

export const authorize = pageApp("/oauth2/auth")
  /** GET /oauth2/auth: the authorization endpoint (RFC 6749 3.1). */
  .get("/oauth2/auth", async (c) => {
    const query = new URL(c.req.url).search.slice(1);
    return withRequest(c, query, async (r) => {
      // prompt=create asks for a new account even when this browser is already signed in.
      if (r.prompt === "create" && registrationOpen(c)) return showRegister(c, r);
      const session = await browserSession(c);
      return session ? showConsent(c, r, session.userId) : showLogin(c, r);
    });
  })
  /** POST /oauth2/auth/login: the sign-in form. */
  .post("/oauth2/auth/login", async (c) => {
    const { form, query } = await postedRequest(c);
    return withRequest(c, query, async (r) => {
      const username = single(form, "username") ?? "";
      const checked = await checkTypedPassword(c, username, single(form, "password") ?? "");
      if ("error" in checked) return showLogin(c, r, { error: checked.error, username, status: checked.status });
      await signIn(c, checked.userId);
      return showConsent(c, r, checked.userId);
    });
  })
  /** POST /oauth2/auth/register: the registration form (prompt=create). */
  .post("/oauth2/auth/register", async (c) => {
    const { form, query } = await postedRequest(c);
    return withRequest(c, query, async (r) => {
      const config = c.var.config;
      if (!registrationOpen(c)) return c.html(errorPage("Registration is closed on this server."), 403);
      const username = (single(form, "username") ?? "").trim().toLowerCase();
      const password = single(form, "password") ?? "";
      const fail = (error: string, status: 400 | 429 = 400) => showRegister(c, r, { error, username, status });
      if (password.length < 8 || password.length > 1024) return fail("The password must be 8 to 1024 characters long.");
      if (password !== single(form, "password_confirm")) return fail("The two passwords differ.");
      if (config.REGISTRATION === "token") {
        const token = single(form, "registration_token") ?? "";
        if (!config.REGISTRATION_TOKEN || !(await equalSecrets(token, config.REGISTRATION_TOKEN))) return fail("Wrong registration token.");
      }
      try {
        await rateLimit(c, "register", [clientIp(c)]);
        // The same checks as /v3/register: a free, valid name outside every appservice's exclusive namespace.
        checkUserNotReserved(c.env, await checkUsernameAvailable(c.env.DB, config, username));
        const userId = await createAccount(c.env.DB, config, { localpart: username, password });
        await signIn(c, userId);
        return showConsent(c, r, userId);
      } catch (err) {
        if (!(err instanceof MatrixError)) throw err;
        return fail(err.status === 429 ? "Too many attempts. Try again in a minute." : err.message, err.status === 429 ? 429 : 400);
      }
    });
  })
  /** POST /oauth2/auth/consent: allow (a code goes back to the client) or deny (access_denied). */
  .post("/oauth2/auth/consent", async (c) => {
    const { form, query } = await postedRequest(c);
    return withRequest(c, query, async (r) => {
      const session = await browserSession(c);
      if (!session) return showLogin(c, r, { error: "Your sign-in expired. Sign in again.", status: 401 });
      const decision = single(form, "decision");
      if (decision !== "allow") {
        return c.redirect(callbackUrl(r.redirectUri, r.responseMode, { error: "access_denied", error_description: "The user refused access", state: r.state }), 303);
      }
      const code = await issueCode(c.env.DB, {
        clientId: r.clientId,
        redirectUri: r.redirectUri,
        codeChallenge: r.codeChallenge,
        userId: session.userId,
        deviceId: r.grant.deviceId,
        scope: r.grant.scope,
      });
      return c.redirect(callbackUrl(r.redirectUri, r.responseMode, { state: r.state, code }), 303);
    });
  })
  /** POST /oauth2/auth/switch: "use another account" signs this browser out and shows the sign-in form. */
  .post("/oauth2/auth/switch", async (c) => {
    const { query } = await postedRequest(c);
    return withRequest(c, query, async (r) => {
      await signOut(c);
      return showLogin(c, r);
    });
  });
