import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * The server-rendered pages of the OAuth 2.0 provider. Plain HTML forms: no JavaScript needed. Every interpolated
 * value is escaped by `html`.
 */

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1d22}
h1{font-size:1.4rem}form{margin:1rem 0}label{display:block;margin:.6rem 0 .2rem}
input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}
button{padding:.5rem 1rem;margin:.3rem .3rem .3rem 0}.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6rem}
.client{background:#f2f4f7;padding:.6rem}.muted{color:#5c6370;font-size:.9rem}table{width:100%;border-collapse:collapse}
td,th{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}.inline{display:inline;margin:0}`;

export function layout(title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${STYLE}</style></head>
<body><h1>${title}</h1>${body}</body></html>`;
}

export const errorBox = (message: string | undefined): Html => (message ? html`<p class="error" role="alert">${message}</p>` : html``);

export function noticePage(title: string, message: string): Html {
  return layout(title, html`<p role="status">${message}</p>`);
}

export function errorPage(message: string): Html {
  return layout("Something went wrong", html`${errorBox(message)}<p class="muted">You can close this page and try again from your app.</p>`);
}

export interface ClientView {
  name: string;
  uri: string;
  tosUri?: string;
  policyUri?: string;
}

/** Names the client and its address, so the person can see who is asking. */
function clientBox(client: ClientView): Html {
  return html`<div class="client"><strong>${client.name}</strong><br><span class="muted">${client.uri}</span>
${client.tosUri ? html`<br><a href="${client.tosUri}" rel="noopener noreferrer">Terms of service</a>` : ""}
${client.policyUri ? html`<br><a href="${client.policyUri}" rel="noopener noreferrer">Privacy policy</a>` : ""}</div>`;
}

export interface LoginForm {
  action: string;
  csrf: string;
  hidden: Record<string, string>;
  client?: ClientView;
  serverName: string;
  error?: string;
  username?: string;
  /** A link to the registration form, when registration is open. */
  registerHref?: string;
}

const hiddenFields = (fields: Record<string, string>): Html[] =>
  Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);

export function loginPage(f: LoginForm): Html {
  return layout(
    `Sign in to ${f.serverName}`,
    html`${f.client ? html`<p>to continue to</p>${clientBox(f.client)}` : ""}${errorBox(f.error)}
<form method="post" action="${f.action}">
<input type="hidden" name="csrf_token" value="${f.csrf}">${hiddenFields(f.hidden)}
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required value="${f.username ?? ""}">
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p></form>
${f.registerHref ? html`<p class="muted">No account yet? <a href="${f.registerHref}">Create one</a></p>` : ""}`,
  );
}

export function registerPage(f: LoginForm & { needsToken: boolean }): Html {
  return layout(
    `Create an account on ${f.serverName}`,
    html`${f.client ? html`<p>to continue to</p>${clientBox(f.client)}` : ""}${errorBox(f.error)}
<form method="post" action="${f.action}">
<input type="hidden" name="csrf_token" value="${f.csrf}">${hiddenFields(f.hidden)}
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required value="${f.username ?? ""}">
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="new-password" required minlength="8">
<label for="password_confirm">Password again</label><input type="password" id="password_confirm" name="password_confirm" autocomplete="new-password" required minlength="8">
${f.needsToken ? html`<label for="registration_token">Registration token</label><input type="text" id="registration_token" name="registration_token" required>` : ""}
<p><button type="submit">Create account</button></p></form>`,
  );
}

export function consentPage(f: {
  csrf: string;
  hidden: Record<string, string>;
  client: ClientView;
  userId: string;
  deviceId: string;
  /** The existing session this sign-in would take over (same device id), if any. */
  replaces: string | null;
}): Html {
  return layout(
    "Allow access?",
    html`${clientBox(f.client)}
<p>This app wants full access to your Matrix account <strong>${f.userId}</strong>: it will be able to read and send
messages in all your rooms and manage your account, as the session <code>${f.deviceId}</code>.</p>
${f.replaces ? html`<p class="error">You already have a session with this id (${f.replaces}). Allowing signs it out and gives its place, including its encryption identity, to this app.</p>` : ""}
<form method="post" action="/oauth2/auth/consent">
<input type="hidden" name="csrf_token" value="${f.csrf}">${hiddenFields(f.hidden)}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>
<form method="post" action="/oauth2/auth/switch">
<input type="hidden" name="csrf_token" value="${f.csrf}">${hiddenFields(f.hidden)}
<p class="muted">Not ${f.userId}? <button type="submit">Use another account</button></p></form>`,
  );
}

export interface DeviceView {
  deviceId: string;
  displayName?: string;
  lastSeenTs?: number;
  lastSeenIp?: string;
  clientName?: string;
}

function deviceRow(csrf: string, d: DeviceView): Html {
  const lastSeen = d.lastSeenTs ? new Date(d.lastSeenTs).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
  return html`<tr><td><a href="/account?action=org.matrix.device_view&amp;device_id=${encodeURIComponent(d.deviceId)}">${d.displayName ?? d.deviceId}</a>
<br><span class="muted">${d.deviceId}${d.clientName ? html` · ${d.clientName}` : ""}</span></td>
<td class="muted">${lastSeen}${d.lastSeenIp ? html`<br>${d.lastSeenIp}` : ""}</td>
<td><form class="inline" method="post" action="/account/devices/delete"><input type="hidden" name="csrf_token" value="${csrf}">
<input type="hidden" name="device_id" value="${d.deviceId}"><button type="submit">Sign out</button></form></td></tr>`;
}

export interface AccountView {
  csrf: string;
  userId: string;
  displayName?: string;
  devices: DeviceView[];
  /** Set for the device_view and device_delete actions: that one device only. */
  focusDeviceId?: string;
  notice?: string;
  error?: string;
}

export function accountPage(v: AccountView): Html {
  const devices = v.focusDeviceId ? v.devices.filter((d) => d.deviceId === v.focusDeviceId) : v.devices;
  return layout(
    "Your account",
    html`<p>Signed in as <strong>${v.userId}</strong></p>${errorBox(v.error)}${v.notice ? html`<p role="status">${v.notice}</p>` : ""}
<h2>Profile</h2>
<form method="post" action="/account/profile"><input type="hidden" name="csrf_token" value="${v.csrf}">
<label for="displayname">Display name</label><input type="text" id="displayname" name="displayname" maxlength="256" value="${v.displayName ?? ""}">
<button type="submit">Save</button></form>
<h2>${v.focusDeviceId ? "Session" : "Sessions"}</h2>
${devices.length === 0 ? html`<p class="muted">${v.focusDeviceId ? "No such session." : "No sessions."}</p>` : ""}
<table>${devices.map((d) => deviceRow(v.csrf, d))}</table>
${v.focusDeviceId ? html`<p><a href="/account?action=org.matrix.devices_list">All sessions</a></p>` : ""}
<h2>Change password</h2>
<form method="post" action="/account/password"><input type="hidden" name="csrf_token" value="${v.csrf}">
<label for="current_password">Current password</label><input type="password" id="current_password" name="current_password" autocomplete="current-password" required>
<label for="new_password">New password</label><input type="password" id="new_password" name="new_password" autocomplete="new-password" required minlength="8">
<label><input type="checkbox" name="logout_devices" value="true"> Sign out all sessions</label>
<button type="submit">Change password</button></form>
<h2 id="deactivate">Deactivate account</h2>
<form method="post" action="/account/deactivate"><input type="hidden" name="csrf_token" value="${v.csrf}">
<p class="muted">Deactivating is permanent: every session ends, your profile is cleared and the user id cannot be used again.</p>
<label for="deactivate_password">Password</label><input type="password" id="deactivate_password" name="password" autocomplete="current-password" required>
<label><input type="checkbox" name="confirm" value="true" required> I understand this cannot be undone</label>
<button type="submit">Deactivate account</button></form>
<form method="post" action="/account/logout"><input type="hidden" name="csrf_token" value="${v.csrf}">
<p><button type="submit">Sign out of this page</button></p></form>`,
  );
}
