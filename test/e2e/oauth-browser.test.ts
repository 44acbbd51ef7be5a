import { existsSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, chromium } from "playwright-core";
import { OAuth2, createClient } from "matrix-js-sdk";
import { baseUrl, registeredClient } from "./client";

/**
 * A real browser (headless Chromium) signs in through the homeserver's own pages, without any help from the test:
 * it types into the form, submits, clicks Allow, and follows the redirect to a native client's loopback URI.
 */

const CHROMIUM = "/usr/lib/chromium/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`Browser OAuth test skipped: Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)("OAuth 2.0 login in headless Chromium", () => {
  let browser: Browser;
  let callbackServer: Server;
  let callbackPort: number;
  const callbacks: URL[] = [];

  beforeAll(async () => {
    callbackServer = createServer((req, res) => {
      const url = new URL(req.url ?? "/", `http://127.0.0.1:${callbackPort}`);
      // Only the callback itself (the browser also asks this origin for /favicon.ico).
      if (url.pathname === "/callback") callbacks.push(url);
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Signed in</title><p>You can close this window.</p>");
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, "127.0.0.1", resolve));
    callbackPort = (callbackServer.address() as { port: number }).port;
    // launch() gives the browser a fresh, throw-away profile of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    callbackServer?.close();
  });

  it("signs in, consents and lands on the client's redirect URI with a code that works", async () => {
    const { username, password } = await registeredClient("browser");
    const metadata = await createClient({ baseUrl: baseUrl() }).getAuthMetadata();
    const clientId = await OAuth2.registerClient(metadata, {
      client_name: "Browser test app",
      client_uri: "https://browser-app.example.org/",
      application_type: "native",
      redirect_uris: ["http://127.0.0.1/callback"],
    });
    const oauth = new OAuth2(metadata, { clientId });
    const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
    const url = await oauth.generateAuthorizationCodeGrantUrl("browser-state", redirectUri, "query");

    const page = await browser.newPage();
    const started = Date.now();
    await page.goto(url);
    expect(await page.textContent("body")).toContain("Browser test app");
    await page.fill("#username", username);
    await page.fill("#password", password);
    await page.click("button[type=submit]");
    await page.waitForSelector("text=Allow access?");
    await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.click("button[value=allow]")]);
    const elapsed = Date.now() - started;
    console.log(`Browser sign-in (page load, sign-in, consent, redirect): ${elapsed} ms`);

    expect(callbacks).toHaveLength(1);
    const callback = callbacks[0]!;
    expect(callback.searchParams.get("state")).toBe("browser-state");
    const tokens = await oauth.completeAuthorizationCodeGrant(callback.searchParams.get("code")!, redirectUri);
    const whoami = await createClient({ baseUrl: baseUrl(), accessToken: tokens.access_token }).whoami();
    expect(whoami.device_id).toBe(oauth.context.deviceId);
    await page.close();
  });
});
