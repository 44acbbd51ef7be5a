import { z } from "zod";
import { OAuthError } from "./errors";

/**
 * Client metadata validation for dynamic client registration (RFC 7591 with the Matrix rules of the spec's
 * "Client registration" section, from MSC2966). Pure: no I/O.
 */

export const MAX_METADATA_BYTES = 16 * 1024;
const MAX_URI = 2048;
const LOCALIZABLE = ["client_name", "logo_uri", "tos_uri", "policy_uri"] as const;
type Localizable = (typeof LOCALIZABLE)[number];
const LOCALIZED_KEY = /^(client_name|logo_uri|tos_uri|policy_uri)#([A-Za-z0-9-]{1,35})$/;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export type ApplicationType = "web" | "native";

/** What we store and answer with: only the values we understood and validated. */
export interface ClientMetadata {
  client_uri: string;
  client_name?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  /** Localized values (`client_name#fr`), keyed by the full key. */
  localized: Record<string, string>;
  redirect_uris: string[];
  application_type: ApplicationType;
  grant_types: ("authorization_code" | "refresh_token")[];
  response_types: "code"[];
  token_endpoint_auth_method: "none";
}

const uri = z.string().min(1).max(MAX_URI);
const RegistrationRequest = z.looseObject({
  client_uri: uri,
  client_name: z.string().min(1).max(256).optional(),
  logo_uri: uri.optional(),
  tos_uri: uri.optional(),
  policy_uri: uri.optional(),
  redirect_uris: z.array(uri).min(1).max(20).optional(),
  application_type: z.enum(["web", "native"]).optional(),
  grant_types: z.array(z.string().max(256)).max(20).optional(),
  response_types: z.array(z.string().max(256)).max(20).optional(),
  token_endpoint_auth_method: z.string().max(256).optional(),
});

const invalidMetadata = (msg: string) => new OAuthError("invalid_client_metadata", msg);
const invalidRedirect = (msg: string) => new OAuthError("invalid_redirect_uri", msg);

function parseUrl(value: string, what: string, error: (msg: string) => OAuthError): URL {
  if (!URL.canParse(value)) throw error(`${what} is not a valid URI`);
  return new URL(value);
}

/** http is allowed on a loopback host only, so clients can be developed locally. */
const isLoopbackHttp = (url: URL) => url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);

/** Same host as the client URI, or a subdomain of it. */
const sharesBase = (url: URL, base: URL) => url.hostname === base.hostname || url.hostname.endsWith(`.${base.hostname}`);

function checkClientUri(value: string): URL {
  const url = parseUrl(value, "client_uri", invalidMetadata);
  if (url.protocol !== "https:" && !isLoopbackHttp(url)) throw invalidMetadata("client_uri must use https");
  if (url.username || url.password) throw invalidMetadata("client_uri must not contain a user or password");
  if (url.hash || value.includes("#")) throw invalidMetadata("client_uri must not have a fragment");
  return url;
}

/** logo_uri, tos_uri and policy_uri: https (or the same loopback http as the client URI), on the client's host. */
function checkAuxUri(key: string, value: string, base: URL): void {
  const url = parseUrl(value, key, invalidMetadata);
  const schemeOk = url.protocol === "https:" || (isLoopbackHttp(base) && url.protocol === base.protocol);
  if (!schemeOk) throw invalidMetadata(`${key} must use https`);
  if (url.username || url.password) throw invalidMetadata(`${key} must not contain a user or password`);
  if (!sharesBase(url, base)) throw invalidMetadata(`${key} must be on the host of client_uri or a subdomain of it`);
}

function checkWebRedirect(value: string, url: URL, base: URL): void {
  const devHttp = isLoopbackHttp(base) && isLoopbackHttp(url) && url.hostname === base.hostname;
  if (url.protocol !== "https:" && !devHttp) throw invalidRedirect(`${value}: web redirect URIs must use https`);
  if (url.username || url.password) throw invalidRedirect(`${value}: must not contain a user or password`);
  if (!sharesBase(url, base)) throw invalidRedirect(`${value}: must be on the host of client_uri or a subdomain of it`);
}

function checkNativeRedirect(value: string, url: URL, base: URL): void {
  if (url.protocol === "https:") return checkWebRedirect(value, url, base);
  if (url.protocol === "http:") {
    if (!LOOPBACK_HOSTS.has(url.hostname)) throw invalidRedirect(`${value}: http redirect URIs must be on localhost, 127.0.0.1 or [::1]`);
    if (url.port !== "") throw invalidRedirect(`${value}: loopback redirect URIs must not have a port (any port is accepted later)`);
    if (url.username || url.password) throw invalidRedirect(`${value}: must not contain a user or password`);
    return;
  }
  // A private-use scheme: the client URI's host in reverse-DNS notation, and no authority.
  const scheme = url.protocol.slice(0, -1);
  const reversed = base.hostname.split(".").reverse().join(".");
  const ownsScheme = base.hostname.includes(".") && (scheme === reversed || scheme.startsWith(`${reversed}.`));
  if (!ownsScheme) throw invalidRedirect(`${value}: a private-use scheme must start with ${reversed || "the reversed client_uri host"}`);
  if (value.slice(scheme.length + 1).startsWith("//")) throw invalidRedirect(`${value}: must not have an authority component`);
}

function checkRedirectUri(value: string, type: ApplicationType, base: URL): void {
  const url = parseUrl(value, value, invalidRedirect);
  if (url.hash || value.includes("#")) throw invalidRedirect(`${value}: redirect URIs must not have a fragment`);
  if (type === "web") checkWebRedirect(value, url, base);
  else checkNativeRedirect(value, url, base);
}

/** Validates a registration request body (already parsed JSON) into the metadata to register. */
export function validateClientMetadata(body: unknown): ClientMetadata {
  const parsed = RegistrationRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "(root)";
    const error = field.startsWith("redirect_uris") ? invalidRedirect : invalidMetadata;
    throw error(`Invalid ${field}: ${issue.message}`);
  }
  const req = parsed.data;
  const base = checkClientUri(req.client_uri);
  const applicationType = req.application_type ?? "web";
  if ((req.token_endpoint_auth_method ?? "none") !== "none") {
    throw invalidMetadata("Only public clients are supported: token_endpoint_auth_method must be none");
  }
  for (const key of ["logo_uri", "tos_uri", "policy_uri"] as const) {
    const value = req[key];
    if (value !== undefined) checkAuxUri(key, value, base);
  }
  const localized: Record<string, string> = {};
  for (const [key, value] of Object.entries(req)) {
    const match = LOCALIZED_KEY.exec(key);
    if (!match) continue;
    if (Object.keys(localized).length >= 40) throw invalidMetadata("Too many localized values");
    const field = match[1] as Localizable;
    if (typeof value !== "string" || value === "" || value.length > (field === "client_name" ? 256 : MAX_URI)) {
      throw invalidMetadata(`Invalid ${key}`);
    }
    if (field !== "client_name") checkAuxUri(key, value, base);
    localized[key] = value;
  }
  const redirectUris = req.redirect_uris ?? [];
  for (const redirect of redirectUris) checkRedirectUri(redirect, applicationType, base);
  // RFC 7591 2: unknown values are ignored; the defaults are authorization_code and code.
  const grantTypes = (req.grant_types ?? ["authorization_code"]).filter(
    (g): g is "authorization_code" | "refresh_token" => g === "authorization_code" || g === "refresh_token",
  );
  const responseTypes = (req.response_types ?? ["code"]).filter((r): r is "code" => r === "code");
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    throw invalidRedirect("At least one redirect URI is required for the authorization code grant");
  }
  return {
    client_uri: req.client_uri,
    ...(req.client_name !== undefined && { client_name: req.client_name }),
    ...(req.logo_uri !== undefined && { logo_uri: req.logo_uri }),
    ...(req.tos_uri !== undefined && { tos_uri: req.tos_uri }),
    ...(req.policy_uri !== undefined && { policy_uri: req.policy_uri }),
    localized,
    redirect_uris: [...new Set(redirectUris)],
    application_type: applicationType,
    grant_types: [...new Set(grantTypes)],
    response_types: [...new Set(responseTypes)],
    token_endpoint_auth_method: "none",
  };
}

/** The registration response body: the client id and every registered value (RFC 7591 3.2.1). */
export function registrationResponse(clientId: string, issuedAt: number, m: ClientMetadata): Record<string, unknown> {
  const { localized, ...plain } = m;
  return { client_id: clientId, client_id_issued_at: Math.floor(issuedAt / 1000), ...plain, ...localized };
}

/**
 * Whether a requested redirect URI is one the client registered: exactly, except that a native client's loopback
 * URI may carry any port (RFC 8252 7.3).
 */
export function isRegisteredRedirect(m: ClientMetadata, requested: string): boolean {
  if (m.redirect_uris.includes(requested)) return true;
  if (m.application_type !== "native" || !URL.canParse(requested)) return false;
  const url = new URL(requested);
  if (url.protocol !== "http:" || !LOOPBACK_HOSTS.has(url.hostname) || url.port === "" || requested.includes("#")) return false;
  url.port = "";
  return m.redirect_uris.some((r) => URL.canParse(r) && new URL(r).href === url.href);
}

/** The client's name in the first language the browser asks for that the client localized, else its plain name. */
export function localizedName(m: ClientMetadata, acceptLanguage: string | undefined): string | undefined {
  const languages = (acceptLanguage ?? "")
    .split(",")
    .map((part) => part.split(";")[0]!.trim())
    .filter((l) => l !== "" && l !== "*");
  for (const language of languages) {
    const exact = m.localized[`client_name#${language}`];
    if (exact) return exact;
  }
  return m.client_name;
}
