import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { registerUser, uniqueName } from "../helpers";
import { CookieJar, WEB_CLIENT, authQuery, csrfOf, pkcePair, raw, registerClient, requestOf, signInAndConsent } from "./helpers";

async function setup() {
  const clientId = await registerClient();
  const { challenge } = await pkcePair();
  return { clientId, challenge };
}

const codesFor = async (deviceId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM oauth_codes WHERE device_id = ?").bind(deviceId).first<{ n: number }>())!.n;

describe("OAuth authorization endpoint", () => {
  it("shows a sign-in page naming the client, with page security headers", async () => {
    const { clientId, challenge } = await setup();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.text).toContain("Test Client");
    expect(page.text).toContain("https://client.example/");
    expect(page.text).toContain('name="csrf_token"');
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("set-cookie")).toMatch(/mx_csrf=.*HttpOnly.*SameSite=Strict/i);
  });

  it("escapes the client's name in the page", async () => {
    const clientId = await registerClient({ ...WEB_CLIENT, client_name: '<script>alert("x")</script>' });
    const { challenge } = await pkcePair();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`);
    expect(page.text).not.toContain("<script>");
    expect(page.text).toContain("&lt;script&gt;");
  });

  it("shows the localized client name the browser asks for", async () => {
    const clientId = await registerClient({ ...WEB_CLIENT, "client_name#fr": "Client de test" });
    const { challenge } = await pkcePair();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { headers: { "accept-language": "fr-CA,fr;q=0.8" } });
    expect(page.text).toContain("Client de test");
  });

  it("never redirects for an unknown client or an unregistered redirect URI (open redirect attempts)", async () => {
    const { clientId, challenge } = await setup();
    const attempts = [
      authQuery({ clientId: "unknown", challenge }),
      authQuery({ clientId, challenge, redirectUri: "https://evil.example/callback" }),
      authQuery({ clientId, challenge, redirectUri: "https://client.example/callback/../evil" }),
      authQuery({ clientId, challenge, redirectUri: "https://client.example/callback?next=https://evil.example" }),
      authQuery({ clientId, challenge, redirectUri: "https://client.example/callback#x" }),
      authQuery({ clientId, challenge, redirectUri: "https://client.example.evil.example/callback" }),
      authQuery({ clientId, challenge, redirectUri: "https://client.example:8443/callback" }),
      `${authQuery({ clientId, challenge })}&redirect_uri=${encodeURIComponent("https://evil.example/")}`,
      authQuery({ clientId, challenge }).replace(/redirect_uri=[^&]*/, ""),
    ];
    for (const query of attempts) {
      const page = await raw("GET", `/oauth2/auth?${query}`);
      expect({ query, status: page.status, location: page.headers.get("location") }).toEqual({ query, status: 400, location: null });
      expect(page.text).toContain("Something went wrong");
    }
  });

  it("sends request errors back to the client with its state", async () => {
    const { clientId, challenge } = await setup();
    const cases: [Record<string, string>, string][] = [
      [{ code_challenge_method: "plain" }, "invalid_request"],
      [{ code_challenge_method: "" }, "invalid_request"],
      [{ code_challenge: "" }, "invalid_request"],
      [{ code_challenge: "too-short" }, "invalid_request"],
      [{ response_type: "token" }, "unsupported_response_type"],
      [{ scope: "urn:matrix:client:api:*" }, "invalid_scope"],
      [{ scope: "urn:matrix:client:api:* urn:matrix:client:device:A urn:matrix:client:device:B" }, "invalid_scope"],
      [{ scope: "urn:matrix:client:device:ABCDEFGH" }, "invalid_scope"],
      [{ scope: "urn:matrix:client:api:* urn:matrix:client:device:ABC urn:synapse:admin:*" }, "invalid_scope"],
      [{ scope: "urn:matrix:client:api:* urn:matrix:client:device:bad/id" }, "invalid_scope"],
    ];
    for (const [extra, error] of cases) {
      const res = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, state: "s1", extra })}`);
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get("location")!);
      expect(`${location.origin}${location.pathname}`).toBe("https://client.example/callback");
      expect({ extra, error: location.searchParams.get("error"), state: location.searchParams.get("state") }).toEqual({ extra, error, state: "s1" });
    }
  });

  it("puts the response in the fragment when asked", async () => {
    const { clientId, challenge } = await setup();
    const res = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { response_mode: "fragment", code_challenge_method: "plain" } })}`);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^https:\/\/client\.example\/callback#/);
    expect(new URLSearchParams(location.split("#")[1]).get("error")).toBe("invalid_request");
  });

  it("signs in, asks consent, and returns a code with the state; the same browser then goes straight to consent", async () => {
    const user = await registerUser("authz");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const callback = await signInAndConsent(user, authQuery({ clientId, challenge, state: "xyz" }), jar);
    expect(`${callback.origin}${callback.pathname}`).toBe("https://client.example/callback");
    expect(callback.searchParams.get("state")).toBe("xyz");
    expect(callback.searchParams.get("code")).toMatch(/^mac_/);
    const again = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    expect(again.text).toContain("Allow access?");
    expect(again.text).toContain(user.userId);
    const create = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { prompt: "create" } })}`, { jar });
    expect(create.text).toContain("Create an account");
  });

  it("warns on the consent page when the requested device id is an existing session", async () => {
    const user = await registerUser("takeover");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, deviceId: user.deviceId })}`, { jar });
    const consent = await raw("POST", "/oauth2/auth/login", {
      jar,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: user.userId, password: user.password },
    });
    expect(consent.text).toContain("You already have a session with this id");
    const fresh = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, deviceId: "BRANDNEWDEV" })}`, { jar });
    expect(fresh.text).toContain("Allow access?");
    expect(fresh.text).not.toContain("You already have a session with this id");
  });

  it("shows a wrong password to the person and issues nothing", async () => {
    const user = await registerUser("wrongpw");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    const res = await raw("POST", "/oauth2/auth/login", {
      jar,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: user.userId, password: "wrong" },
    });
    expect(res.status).toBe(401);
    expect(res.text).toContain("Wrong username or password.");
    expect(jar.get("mx_session")).toBeUndefined();
  });

  it("rate limits password attempts on the sign-in page with the shared limiter", async () => {
    const user = await registerUser("ratelimit");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const rateEnv = { RATE_LIMIT_ENABLED: "true", RATE_LIMIT_LOGIN_PER_MINUTE: "2" };
    const headers = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}` };
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    const attempt = (password: string) =>
      raw("POST", "/oauth2/auth/login", {
        jar,
        env: rateEnv,
        headers,
        form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: user.userId, password },
      });
    expect((await attempt("wrong1")).status).toBe(401);
    expect((await attempt("wrong2")).status).toBe(401);
    const limited = await attempt(user.password);
    expect(limited.status).toBe(429);
    expect(limited.text).toContain("Too many attempts");
    expect(jar.get("mx_session")).toBeUndefined();
  });

  it("refuses form posts without the CSRF cookie and token, issuing nothing", async () => {
    const user = await registerUser("csrf");
    const { clientId, challenge } = await setup();
    const deviceId = `CSRF${uniqueName("d").toUpperCase()}`;
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, deviceId })}`, { jar });
    const request = requestOf(page.text);
    const login = { request, username: user.userId, password: user.password };
    const noToken = await raw("POST", "/oauth2/auth/login", { jar, form: login });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain("did not come from this site");
    const noCookie = await raw("POST", "/oauth2/auth/login", { form: { ...login, csrf_token: csrfOf(page.text) } });
    expect(noCookie.status).toBe(403);
    const forged = await raw("POST", "/oauth2/auth/login", { jar, form: { ...login, csrf_token: "mcs_forged" } });
    expect(forged.status).toBe(403);
    expect(jar.get("mx_session")).toBeUndefined();

    // Signed in for real, a consent post without the token still grants nothing.
    const consent = await raw("POST", "/oauth2/auth/login", { jar, form: { ...login, csrf_token: csrfOf(page.text) } });
    expect(consent.status).toBe(200);
    const forgedConsent = await raw("POST", "/oauth2/auth/consent", { jar, form: { request, decision: "allow" } });
    expect(forgedConsent.status).toBe(403);
    expect(forgedConsent.headers.get("location")).toBeNull();
    expect(await codesFor(deviceId)).toBe(0);
  });

  it("re-checks the carried request: a tampered redirect URI in the form is an error page", async () => {
    const user = await registerUser("tamper");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    const tampered = requestOf(page.text).replace(encodeURIComponent("https://client.example/callback"), encodeURIComponent("https://evil.example/"));
    const res = await raw("POST", "/oauth2/auth/login", {
      jar,
      form: { csrf_token: csrfOf(page.text), request: tampered, username: user.userId, password: user.password },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  it("sends access_denied when the person refuses", async () => {
    const user = await registerUser("deny");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, state: "st" })}`, { jar });
    const consent = await raw("POST", "/oauth2/auth/login", {
      jar,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: user.userId, password: user.password },
    });
    const res = await raw("POST", "/oauth2/auth/consent", { jar, form: { csrf_token: csrfOf(consent.text), request: requestOf(consent.text), decision: "deny" } });
    const location = new URL(res.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("st");
    expect(location.searchParams.get("code")).toBeNull();
  });

  it("asks for sign-in again when consent is posted without a session", async () => {
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    const res = await raw("POST", "/oauth2/auth/consent", { jar, form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), decision: "allow" } });
    expect(res.status).toBe(401);
    expect(res.text).toContain("Sign in");
  });

  it("switches account: the browser session ends and the sign-in form comes back", async () => {
    const user = await registerUser("switch");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    await signInAndConsent(user, authQuery({ clientId, challenge }), jar);
    const consent = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar });
    const res = await raw("POST", "/oauth2/auth/switch", { jar, form: { csrf_token: csrfOf(consent.text), request: requestOf(consent.text) } });
    expect(res.text).toContain('name="password"');
    expect(jar.get("mx_session")).toBeUndefined();
    expect((await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge })}`, { jar })).text).not.toContain("Allow access?");
  });

  it("accepts any port for a native client's loopback redirect URI, and its private-use scheme", async () => {
    const clientId = await registerClient({
      client_uri: "https://app.example.org/",
      application_type: "native",
      redirect_uris: ["http://127.0.0.1/callback", "org.example.app:/callback"],
      grant_types: ["authorization_code", "refresh_token"],
    });
    const { challenge } = await pkcePair();
    const user = await registerUser("native");
    const loopback = await signInAndConsent(user, authQuery({ clientId, challenge, redirectUri: "http://127.0.0.1:51234/callback" }));
    expect(loopback.origin).toBe("http://127.0.0.1:51234");
    const scheme = await signInAndConsent(user, authQuery({ clientId, challenge, redirectUri: "org.example.app:/callback" }));
    expect(scheme.protocol).toBe("org.example.app:");
    expect(scheme.searchParams.get("code")).toMatch(/^mac_/);
    const wrongPath = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, redirectUri: "http://127.0.0.1:51234/other" })}`);
    expect(wrongPath.status).toBe(400);
  });
});

describe("OAuth registration page (prompt=create)", () => {
  it("creates an account and continues to consent", async () => {
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { prompt: "create" } })}`, { jar });
    expect(page.text).toContain("Create an account");
    const username = uniqueName("oreg");
    const form = { csrf_token: csrfOf(page.text), request: requestOf(page.text), username, password: "a good password", password_confirm: "a good password" };
    const mismatch = await raw("POST", "/oauth2/auth/register", { jar, form: { ...form, password_confirm: "other password" } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.text).toContain("The two passwords differ.");
    const created = await raw("POST", "/oauth2/auth/register", { jar, form });
    expect(created.status).toBe(200);
    expect(created.text).toContain("Allow access?");
    const taken = await raw("POST", "/oauth2/auth/register", { form, jar: new CookieJar() });
    expect(taken.status).toBe(403);
    const login = await raw("POST", "/_matrix/client/v3/login", {
      json: { type: "m.login.password", identifier: { type: "m.id.user", user: username }, password: "a good password" },
    });
    expect(login.status).toBe(200);
  });

  it("refuses a taken name with the reason shown", async () => {
    const user = await registerUser("takenname");
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { prompt: "create" } })}`, { jar });
    const localpart = user.userId.slice(1).split(":")[0]!;
    const res = await raw("POST", "/oauth2/auth/register", {
      jar,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: localpart, password: "a good password", password_confirm: "a good password" },
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("already taken");
  });

  it("refuses a name in an appservice's exclusive namespace", async () => {
    const registration = { id: "bridge", url: "http://127.0.0.1:9", as_token: "as-oauth", hs_token: "hs-oauth", sender_localpart: "bridgebot", namespaces: { users: [{ exclusive: true, regex: "@bridge_.*:localhost:8787" }] } };
    const withAs = { APPSERVICES: JSON.stringify([registration]) };
    const { clientId, challenge } = await setup();
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { prompt: "create" } })}`, { jar, env: withAs });
    const res = await raw("POST", "/oauth2/auth/register", {
      jar,
      env: withAs,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: uniqueName("bridge_"), password: "a good password", password_confirm: "a good password" },
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("reserved by an application service");
    expect(jar.get("mx_session")).toBeUndefined();
  });

  it("is not offered, nor advertised, when registration is closed", async () => {
    const { clientId, challenge } = await setup();
    const closed = { REGISTRATION: "closed" };
    const jar = new CookieJar();
    const page = await raw("GET", `/oauth2/auth?${authQuery({ clientId, challenge, extra: { prompt: "create" } })}`, { env: closed, jar });
    expect(page.text).toContain('name="password"');
    expect(page.text).not.toContain("Create an account");
    const res = await raw("POST", "/oauth2/auth/register", {
      env: closed,
      jar,
      form: { csrf_token: csrfOf(page.text), request: requestOf(page.text), username: uniqueName("x"), password: "a good password", password_confirm: "a good password" },
    });
    expect(res.status).toBe(403);
    const metadata = (await raw("GET", "/_matrix/client/v1/auth_metadata", { env: closed })).json();
    expect(metadata["prompt_values_supported"]).toBeUndefined();
  });
});
