import { describe, expect, it } from "vitest";
import { OAuth2, OAuth2HTTPError, createClient } from "matrix-js-sdk";
import { api, baseUrl, registeredClient } from "./client";

/**
 * The OAuth 2.0 API end to end, driven by matrix-js-sdk's own OAuth helpers: discover, register the client,
 * build the authorization URL, sign in through the real HTML form as a browser would (cookie + CSRF token), exchange
 * the code, use the token, refresh, revoke.
 */

const REDIRECT_URI = "https://e2e-client.example/callback";

/** A browser's cookie store for one origin, enough for our pages (name=value; attributes ignored). */
class Browser {
  private cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; text: string; location: string | null }> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const res = await fetch(url, { method: init.method ?? "GET", headers, body, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: res.status, text: await res.text(), location: res.headers.get("location") };
  }
}

const field = (html: string, name: string): string => {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no ${name} field in page`);
  return match[1]!.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
};

/** Signs in on the authorization page and allows access; returns the callback URL. */
async function signInThroughPages(browser: Browser, authorizationUrl: string, username: string, password: string): Promise<URL> {
  const page = await browser.request(authorizationUrl);
  expect(page.status).toBe(200);
  expect(page.text).toContain("E2E OAuth client");
  const consent = await browser.request(new URL("/oauth2/auth/login", baseUrl()).toString(), {
    method: "POST",
    form: { csrf_token: field(page.text, "csrf_token"), request: field(page.text, "request"), username, password },
  });
  expect(consent.status).toBe(200);
  const done = await browser.request(new URL("/oauth2/auth/consent", baseUrl()).toString(), {
    method: "POST",
    form: { csrf_token: field(consent.text, "csrf_token"), request: field(consent.text, "request"), decision: "allow" },
  });
  expect(done.status).toBe(303);
  return new URL(done.location!);
}

async function discoverAndRegister() {
  const anon = createClient({ baseUrl: baseUrl() });
  const metadata = await anon.getAuthMetadata();
  const clientId = await OAuth2.registerClient(metadata, {
    client_name: "E2E OAuth client",
    client_uri: "https://e2e-client.example/",
    redirect_uris: [REDIRECT_URI],
    application_type: "web",
  });
  return { metadata, clientId };
}

describe("OAuth 2.0 login with matrix-js-sdk", () => {
  it("serves metadata that the spec's OpenAPI definition accepts", async () => {
    const res = await api("GET", "/_matrix/client/v1/auth_metadata");
    expect(res.status).toBe(200);
    expect(res.body["issuer"]).toBe(`${baseUrl()}/`);
  });

  it("discovers, registers, authorizes through the login form, exchanges the code, refreshes and revokes", async () => {
    const { username, password } = await registeredClient("oauthe2e");
    const { metadata, clientId } = await discoverAndRegister();
    const oauth = new OAuth2(metadata, { clientId });
    const state = "e2e-state-1";
    const url = await oauth.generateAuthorizationCodeGrantUrl(state, REDIRECT_URI, "fragment");

    const callback = await signInThroughPages(new Browser(), url, username, password);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    const response = new URLSearchParams(callback.hash.slice(1));
    expect(response.get("state")).toBe(state);

    const tokens = await oauth.completeAuthorizationCodeGrant(response.get("code")!, REDIRECT_URI);
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.scope).toContain(`urn:matrix:client:device:${oauth.context.deviceId}`);
    const client = createClient({ baseUrl: baseUrl(), accessToken: tokens.access_token });
    const whoami = await client.whoami();
    expect(whoami).toMatchObject({ user_id: `@${username}:localhost`, device_id: oauth.context.deviceId });

    const refreshed = await oauth.performRefreshTokenGrant(tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    await expect(client.whoami()).rejects.toMatchObject({ httpStatus: 401 });
    client.setAccessToken(refreshed.access_token);
    expect((await client.whoami()).device_id).toBe(oauth.context.deviceId);

    await oauth.revokeToken(refreshed.access_token, "access_token");
    await expect(client.whoami()).rejects.toMatchObject({ httpStatus: 401 });
    await expect(oauth.performRefreshTokenGrant(refreshed.refresh_token!)).rejects.toBeInstanceOf(OAuth2HTTPError);
  });

  it("a refresh retried before its pair is used gets a new pair; replayed after that, it revokes the session", async () => {
    const { username, password } = await registeredClient("oauthreplay");
    const { metadata, clientId } = await discoverAndRegister();
    const oauth = new OAuth2(metadata, { clientId });
    const url = await oauth.generateAuthorizationCodeGrantUrl("s", REDIRECT_URI, "query");
    const callback = await signInThroughPages(new Browser(), url, username, password);
    const tokens = await oauth.completeAuthorizationCodeGrant(callback.searchParams.get("code")!, REDIRECT_URI);
    // The first answer is "lost": the retry with the same refresh token is not a leak.
    await oauth.performRefreshTokenGrant(tokens.refresh_token!);
    const refreshed = await oauth.performRefreshTokenGrant(tokens.refresh_token!);
    const client = createClient({ baseUrl: baseUrl(), accessToken: refreshed.access_token });
    expect((await client.whoami()).user_id).toMatch(/^@oauthreplay/);
    const replay = oauth.performRefreshTokenGrant(tokens.refresh_token!);
    await expect(replay).rejects.toMatchObject({ error: "invalid_grant" });
    await expect(client.whoami()).rejects.toMatchObject({ httpStatus: 401 });
  });

  it("registers a new account through the prompt=create page", async () => {
    const { metadata, clientId } = await discoverAndRegister();
    expect(metadata.prompt_values_supported).toContain("create");
    const oauth = new OAuth2(metadata, { clientId });
    const url = await oauth.generateAuthorizationCodeGrantUrl("s", REDIRECT_URI, "query", "create");
    const browser = new Browser();
    const page = await browser.request(url);
    expect(page.text).toContain("Create an account");
    const username = `oauthnew${Date.now().toString(36)}`;
    const consent = await browser.request(new URL("/oauth2/auth/register", baseUrl()).toString(), {
      method: "POST",
      form: { csrf_token: field(page.text, "csrf_token"), request: field(page.text, "request"), username, password: "new account pw", password_confirm: "new account pw" },
    });
    expect(consent.text).toContain("Allow access?");
    const done = await browser.request(new URL("/oauth2/auth/consent", baseUrl()).toString(), {
      method: "POST",
      form: { csrf_token: field(consent.text, "csrf_token"), request: field(consent.text, "request"), decision: "allow" },
    });
    const tokens = await oauth.completeAuthorizationCodeGrant(new URL(done.location!).searchParams.get("code")!, REDIRECT_URI);
    const whoami = await createClient({ baseUrl: baseUrl(), accessToken: tokens.access_token }).whoami();
    expect(whoami.user_id).toBe(`@${username}:localhost`);
  });

  it("refuses a code exchanged with the wrong PKCE verifier", async () => {
    const { username, password } = await registeredClient("oauthpkce");
    const { metadata, clientId } = await discoverAndRegister();
    const honest = new OAuth2(metadata, { clientId });
    const url = await honest.generateAuthorizationCodeGrantUrl("s", REDIRECT_URI, "query");
    const callback = await signInThroughPages(new Browser(), url, username, password);
    const thief = new OAuth2(metadata, { clientId });
    await expect(thief.completeAuthorizationCodeGrant(callback.searchParams.get("code")!, REDIRECT_URI)).rejects.toMatchObject({ error: "invalid_grant" });
  });
});
