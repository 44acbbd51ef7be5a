import { type Context, Hono } from "hono";
import { MatrixError } from "../http/errors";
import { clientIp, rateLimit } from "../http/ratelimit";
import type { AppEnv } from "../http/types";
import { readCappedText } from "../http/validate";
import { readForm, single } from "./browser";
import { MAX_METADATA_BYTES, registrationResponse, validateClientMetadata } from "./client-metadata";
import { OAuthError } from "./errors";
import { exchangeCode, getClient, refreshGrant, registerClient, revokeToken } from "./provider";

/** Account management actions this server's /account page implements (spec 1.18, from MSC4191). */
export const ACCOUNT_ACTIONS = [
  "org.matrix.profile",
  "org.matrix.devices_list",
  "org.matrix.device_view",
  "org.matrix.device_delete",
  "org.matrix.account_deactivate",
];

/** The authorization server metadata (RFC 8414): only what is implemented. */
export function authMetadata(c: Context<AppEnv>): Record<string, unknown> {
  const base = c.var.config.PUBLIC_BASEURL;
  return {
    issuer: base,
    authorization_endpoint: `${base}oauth2/auth`,
    token_endpoint: `${base}oauth2/token`,
    registration_endpoint: `${base}oauth2/register`,
    revocation_endpoint: `${base}oauth2/revoke`,
    response_types_supported: ["code"],
    response_modes_supported: ["query", "fragment"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["none"],
    revocation_endpoint_auth_methods_supported: ["none"],
    scopes_supported: ["urn:matrix:client:api:*", "urn:matrix:client:device:*"],
    ...(c.var.config.REGISTRATION !== "closed" && { prompt_values_supported: ["create"] }),
    account_management_uri: `${base}account`,
    account_management_actions_supported: ACCOUNT_ACTIONS,
  };
}

/** JSON endpoints of OAuth 2.0: errors as `{error, error_description}`, never a Matrix errcode. */
function oauthJsonApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((err, c) => {
    c.header("Cache-Control", "no-store");
    if (err instanceof OAuthError) return c.json(err.toJSON(), err.status);
    if (err instanceof MatrixError) {
      const retryAfterMs = err.extra["retry_after_ms"];
      if (typeof retryAfterMs === "number") c.header("Retry-After", String(Math.ceil(retryAfterMs / 1000)));
      return c.json({ error: "invalid_request", error_description: err.message }, err.status);
    }
    console.error(`Unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
    return c.json({ error: "server_error", error_description: "Internal server error" }, 500);
  });
  return app;
}

const required = (form: URLSearchParams, name: string): string => {
  const value = single(form, name);
  if (!value) throw new OAuthError("invalid_request", `Parameter ${name} is required`);
  return value;
};

export const endpoints = oauthJsonApp()
  /** GET /.well-known/openid-configuration (for generic OAuth/OIDC tooling; Matrix clients use auth_metadata). */
  .get("/.well-known/openid-configuration", (c) => c.json(authMetadata(c)))
  /** POST /oauth2/register: dynamic client registration (RFC 7591). */
  .post("/oauth2/register", async (c) => {
    if (Number(c.req.header("content-length") ?? "0") > MAX_METADATA_BYTES) {
      throw new OAuthError("invalid_client_metadata", `Client metadata is limited to ${MAX_METADATA_BYTES} bytes`);
    }
    const text = await readCappedText(c);
    if (new TextEncoder().encode(text).byteLength > MAX_METADATA_BYTES) {
      throw new OAuthError("invalid_client_metadata", `Client metadata is limited to ${MAX_METADATA_BYTES} bytes`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OAuthError("invalid_client_metadata", "The body is not JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new OAuthError("invalid_client_metadata", "The body must be a JSON object");
    const metadata = validateClientMetadata(body);
    // Registrations are stored for good: each address gets the account-registration budget, counted separately.
    const ip = clientIp(c);
    await rateLimit(c, "register", [ip === null ? null : `oauth-client:${ip}`]);
    const { clientId, issuedAt } = await registerClient(c.env.DB, metadata);
    c.header("Cache-Control", "no-store");
    return c.json(registrationResponse(clientId, issuedAt, metadata), 201);
  })
  /** POST /oauth2/token: the authorization_code and refresh_token grants (RFC 6749 4.1.3, 6). */
  .post("/oauth2/token", async (c) => {
    const form = await readForm(c, { csrf: false });
    const grantType = required(form, "grant_type");
    const clientId = single(form, "client_id");
    if (!clientId) throw new OAuthError("invalid_client", "client_id is required (public clients identify themselves with it)");
    const client = await getClient(c.env.DB, clientId);
    if (!client) throw new OAuthError("invalid_client", "Unknown client");
    if (grantType !== "authorization_code" && grantType !== "refresh_token") {
      throw new OAuthError("unsupported_grant_type", `Unsupported grant_type ${grantType}`);
    }
    if (!client.grant_types.includes(grantType)) throw new OAuthError("unauthorized_client", `The client did not register the ${grantType} grant`);
    const response =
      grantType === "authorization_code"
        ? await exchangeCode(c.env.DB, c.var.config, {
            code: required(form, "code"),
            clientId,
            redirectUri: required(form, "redirect_uri"),
            codeVerifier: required(form, "code_verifier"),
            ip: clientIp(c),
          })
        : await refreshGrant(c.env.DB, c.var.config, { refreshToken: required(form, "refresh_token"), clientId });
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json(response);
  })
  /** POST /oauth2/revoke: token revocation (RFC 7009); the token's whole device session ends. */
  .post("/oauth2/revoke", async (c) => {
    const form = await readForm(c, { csrf: false });
    const token = required(form, "token");
    const hint = single(form, "token_type_hint");
    await revokeToken(c.env.DB, token, hint === "access_token" || hint === "refresh_token" ? hint : undefined);
    c.header("Cache-Control", "no-store");
    return c.json({});
  });

/** GET /_matrix/client/v1/auth_metadata, and MSC2965's unstable path for older clients. Mounted under /_matrix/client. */
export const authMetadataRoutes = new Hono<AppEnv>()
  .get("/v1/auth_metadata", (c) => c.json(authMetadata(c)))
  .get("/unstable/org.matrix.msc2965/auth_metadata", (c) => c.json(authMetadata(c)));
