import type { Context } from "hono";
import { clientIp, rateLimit } from "../http/ratelimit";
import type { AppEnv } from "../http/types";
import { MatrixError } from "../http/errors";
import { changePassword, checkPasswordLogin, deactivateAccount } from "../services/accounts";
import { devicesOf } from "../services/devices";
import { propagateProfile } from "../services/profile-propagation";
import { publicProfile, updateProfile } from "../services/profiles";
import { deleteUserBrowserSessions, listOAuthSessionClients } from "../storage/oauth";
import { type BrowserSession, browserSession, csrfToken, readForm, signIn, signOut, single } from "./browser";
import type { ClientMetadata } from "./client-metadata";
import { checkTypedPassword, pageApp } from "./page-app";
import { type AccountView, accountPage, loginPage, noticePage } from "./pages";
import { revokeDevice } from "./provider";

type Ctx = Context<AppEnv>;

/** MSC4191's unstable action names, still sent by some clients, mapped to the spec's. */
const ACTION_ALIASES: Record<string, string> = {
  "org.matrix.sessions_list": "org.matrix.devices_list",
  "org.matrix.session_view": "org.matrix.device_view",
  "org.matrix.session_end": "org.matrix.device_delete",
};

/** Only our own account page may be the target after sign-in: never an open redirect. */
function safeNext(next: string | undefined): string {
  return next && /^\/account(\?[A-Za-z0-9._~%&=+\-!$'()*,;:@/?]*)?$/.test(next) ? next : "/account";
}

function showLogin(c: Ctx, next: string, extra: { error?: string; username?: string; status?: 200 | 401 | 429 } = {}): Response | Promise<Response> {
  return c.html(
    loginPage({
      action: "/account/login",
      csrf: csrfToken(c),
      hidden: { next },
      serverName: c.var.config.SERVER_NAME,
      error: extra.error,
      username: extra.username,
    }),
    extra.status ?? 200,
  );
}

async function showAccount(c: Ctx, session: BrowserSession, extra: Partial<AccountView> & { status?: 200 | 400 | 401 | 429 } = {}): Promise<Response> {
  const db = c.env.DB;
  const [devices, clients, profile] = await Promise.all([devicesOf(db, session.userId), listOAuthSessionClients(db, session.userId), publicProfile(db, session.userId)]);
  const clientNames = new Map(clients.map((s) => [s.device_id, (JSON.parse(s.metadata) as ClientMetadata).client_name]));
  const { status, ...view } = extra;
  return c.html(
    accountPage({
      csrf: csrfToken(c),
      userId: session.userId,
      displayName: profile.displayname,
      devices: devices.map((d) => ({
        deviceId: d.device_id,
        displayName: d.display_name,
        lastSeenTs: d.last_seen_ts,
        lastSeenIp: d.last_seen_ip,
        clientName: clientNames.get(d.device_id),
      })),
      ...view,
    }),
    status ?? 200,
  );
}

/** Re-checks the signed-in user's password before a sensitive change (rate limited like login): the error, if any. */
async function wrongPassword(c: Ctx, userId: string, password: string): Promise<{ error: string; status: 401 | 429 } | null> {
  try {
    await rateLimit(c, "login", [clientIp(c), userId]);
    if (password.length > 1024) throw new MatrixError(403, "M_FORBIDDEN", "Wrong password");
    await checkPasswordLogin(c.env.DB, userId, password);
    return null;
  } catch (err) {
    if (!(err instanceof MatrixError)) throw err;
    return err.status === 429 ? { error: "Too many attempts. Try again in a minute.", status: 429 } : { error: "The password is wrong.", status: 401 };
  }
}

/** Runs a posted account form: CSRF first, then the sign-in. */
async function posted(c: Ctx, run: (form: URLSearchParams, session: BrowserSession) => Promise<Response>): Promise<Response> {
  const form = await readForm(c, { csrf: true });
  const session = await browserSession(c);
  if (!session) return showLogin(c, "/account", { error: "Your sign-in expired. Sign in again.", status: 401 });
  return run(form, session);
}

export const account = pageApp("/account")
  /** GET /account: the account management page (account_management_uri), with the spec's `action` deep links. */
  .get("/account", async (c) => {
    const session = await browserSession(c);
    const url = new URL(c.req.url);
    if (!session) return showLogin(c, safeNext(`${url.pathname}${url.search}`));
    const actionParam = c.req.query("action") ?? "org.matrix.devices_list";
    const action = ACTION_ALIASES[actionParam] ?? actionParam;
    const deviceId = c.req.query("device_id");
    const focus = (action === "org.matrix.device_view" || action === "org.matrix.device_delete") && deviceId ? deviceId : undefined;
    return showAccount(c, session, { focusDeviceId: focus });
  })
  /** POST /account/login */
  .post("/account/login", async (c) => {
    const form = await readForm(c, { csrf: true });
    const next = safeNext(single(form, "next"));
    const username = single(form, "username") ?? "";
    const checked = await checkTypedPassword(c, username, single(form, "password") ?? "");
    if ("error" in checked) return showLogin(c, next, { error: checked.error, username, status: checked.status });
    await signIn(c, checked.userId);
    return c.redirect(next, 303);
  })
  /** POST /account/logout: signs this browser out of the account pages (sessions of apps stay). */
  .post("/account/logout", async (c) => {
    await readForm(c, { csrf: true });
    await signOut(c);
    return showLogin(c, "/account");
  })
  /** POST /account/devices/delete: signs a session (device) out. */
  .post("/account/devices/delete", (c) =>
    posted(c, async (form, session) => {
      const deviceId = single(form, "device_id");
      if (!deviceId) return showAccount(c, session, { error: "No session was chosen.", status: 400 });
      await revokeDevice(c.env.DB, session.userId, deviceId);
      return showAccount(c, session, { notice: `Session ${deviceId} was signed out.` });
    }),
  )
  /** POST /account/profile: sets the display name (org.matrix.profile). */
  .post("/account/profile", (c) =>
    posted(c, async (form, session) => {
      const name = (single(form, "displayname") ?? "").trim();
      if (name.length > 256) return showAccount(c, session, { error: "The display name is too long.", status: 400 });
      await updateProfile(c.env.DB, session.userId, "displayname", name === "" ? null : name);
      c.executionCtx.waitUntil(propagateProfile(c.env, session.userId));
      return showAccount(c, session, { notice: "Display name saved." });
    }),
  )
  /** POST /account/deactivate: needs the password and an explicit confirmation (org.matrix.account_deactivate). */
  .post("/account/deactivate", (c) =>
    posted(c, async (form, session) => {
      if (single(form, "confirm") !== "true") return showAccount(c, session, { error: "Tick the box to confirm the deactivation.", status: 400 });
      const wrong = await wrongPassword(c, session.userId, single(form, "password") ?? "");
      if (wrong) return showAccount(c, session, wrong);
      await deactivateAccount(c.env.DB, session.userId);
      await signOut(c);
      return c.html(noticePage("Account deactivated", `${session.userId} is deactivated and signed out everywhere.`));
    }),
  )
  /** POST /account/password: needs the current password (rate limited like login). */
  .post("/account/password", (c) =>
    posted(c, async (form, session) => {
      const current = single(form, "current_password") ?? "";
      const next = single(form, "new_password") ?? "";
      if (next.length < 8 || next.length > 1024) return showAccount(c, session, { error: "The new password must be 8 to 1024 characters long.", status: 400 });
      const wrong = await wrongPassword(c, session.userId, current);
      if (wrong) return showAccount(c, session, wrong);
      const logoutDevices = single(form, "logout_devices") === "true";
      // No device is "this one" here: with the box ticked every app session ends, and other browsers are signed out.
      await changePassword(c.env.DB, session.userId, "", next, logoutDevices);
      if (logoutDevices) await deleteUserBrowserSessions(c.env.DB, session.userId, session.sessionHash);
      return showAccount(c, session, { notice: logoutDevices ? "Password changed; all sessions were signed out." : "Password changed." });
    }),
  );
