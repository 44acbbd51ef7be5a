import { describe, expect, it } from "vitest";
import { call, registerUser } from "../helpers";
import { CookieJar, csrfOf, raw, whoami } from "./helpers";

async function signedIn(prefix = "acct") {
  const user = await registerUser(prefix);
  const jar = new CookieJar();
  const page = await raw("GET", "/account?action=org.matrix.devices_list", { jar });
  expect(page.status).toBe(200);
  expect(page.text).toContain('name="password"');
  const res = await raw("POST", "/account/login", {
    jar,
    form: { csrf_token: csrfOf(page.text), next: "/account?action=org.matrix.devices_list", username: user.userId, password: user.password },
  });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/account?action=org.matrix.devices_list");
  const account = await raw("GET", "/account", { jar });
  expect(account.text).toContain(user.userId);
  return { user, jar, csrf: csrfOf(account.text), page: account.text };
}

describe("account management page", () => {
  it("asks for sign-in first, and only redirects back to the account page", async () => {
    const user = await registerUser("nextacct");
    const jar = new CookieJar();
    const page = await raw("GET", "/account", { jar });
    for (const next of ["https://evil.example/", "//evil.example/", "/account/../oauth2", "/accountx", "/account?x=1#y", "/account?x=1\r\nSet-Cookie: a=b", "/account?\\evil"]) {
      const res = await raw("POST", "/account/login", { jar, form: { csrf_token: csrfOf(page.text), next, username: user.userId, password: user.password } });
      expect({ next, location: res.headers.get("location") }).toEqual({ next, location: "/account" });
    }
  });

  it("lists sessions and signs one out (org.matrix.device_delete)", async () => {
    const { user, jar, csrf, page } = await signedIn();
    expect(page).toContain(user.deviceId);
    const view = await raw("GET", `/account?action=org.matrix.device_view&device_id=${user.deviceId}`, { jar });
    expect(view.text).toContain(user.deviceId);
    const res = await raw("POST", "/account/devices/delete", { jar, form: { csrf_token: csrf, device_id: user.deviceId } });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`Session ${user.deviceId} was signed out.`);
    expect(await whoami(user.accessToken)).toBe(401);
  });

  it("refuses account forms without the CSRF token", async () => {
    const { user, jar } = await signedIn("acctcsrf");
    const res = await raw("POST", "/account/devices/delete", { jar, form: { device_id: user.deviceId } });
    expect(res.status).toBe(403);
    expect(await whoami(user.accessToken)).toBe(200);
    const pw = await raw("POST", "/account/password", { jar, form: { current_password: user.password, new_password: "new password 123" } });
    expect(pw.status).toBe(403);
  });

  it("changes the password only with the current one, optionally signing every session out", async () => {
    const { user, jar, csrf } = await signedIn("acctpw");
    const wrong = await raw("POST", "/account/password", { jar, form: { csrf_token: csrf, current_password: "nope", new_password: "new password 123" } });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("The password is wrong.");
    const ok = await raw("POST", "/account/password", {
      jar,
      form: { csrf_token: csrf, current_password: user.password, new_password: "new password 123", logout_devices: "true" },
    });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("Password changed; all sessions were signed out.");
    expect(await whoami(user.accessToken)).toBe(401);
    const login = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: "new password 123" },
    });
    expect(login.status).toBe(200);
  });

  it("sets the display name (org.matrix.profile)", async () => {
    const { user, jar, csrf } = await signedIn("acctprof");
    const res = await raw("POST", "/account/profile", { jar, form: { csrf_token: csrf, displayname: "New <Name>" } });
    expect(res.status).toBe(200);
    expect(res.text).toContain("New &lt;Name&gt;");
    const profile = await call("GET", `/_matrix/client/v3/profile/${encodeURIComponent(user.userId)}/displayname`);
    expect(profile.body["displayname"]).toBe("New <Name>");
  });

  it("deactivates the account only with the password and the confirmation (org.matrix.account_deactivate)", async () => {
    const { user, jar, csrf } = await signedIn("acctdeact");
    const unconfirmed = await raw("POST", "/account/deactivate", { jar, form: { csrf_token: csrf, password: user.password } });
    expect(unconfirmed.status).toBe(400);
    const wrong = await raw("POST", "/account/deactivate", { jar, form: { csrf_token: csrf, password: "nope", confirm: "true" } });
    expect(wrong.status).toBe(401);
    expect(await whoami(user.accessToken)).toBe(200);
    const done = await raw("POST", "/account/deactivate", { jar, form: { csrf_token: csrf, password: user.password, confirm: "true" } });
    expect(done.status).toBe(200);
    expect(done.text).toContain("Account deactivated");
    expect(await whoami(user.accessToken)).toBe(401);
    expect((await raw("GET", "/account", { jar })).text).toContain('name="password"');
    const login = await call("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
    });
    expect(login.status).toBe(403);
  });

  it("signs the browser out", async () => {
    const { jar, csrf } = await signedIn("acctout");
    const res = await raw("POST", "/account/logout", { jar, form: { csrf_token: csrf } });
    expect(res.text).toContain('name="password"');
    expect((await raw("GET", "/account", { jar })).text).toContain('name="password"');
  });

  it("answers the sign-in page for posts without a session", async () => {
    const jar = new CookieJar();
    const page = await raw("GET", "/account", { jar });
    const res = await raw("POST", "/account/devices/delete", { jar, form: { csrf_token: csrfOf(page.text), device_id: "X" } });
    expect(res.status).toBe(401);
    expect(res.text).toContain('name="password"');
  });
});
