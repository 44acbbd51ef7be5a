import type { Config } from "../config";
import { MatrixError } from "../http/errors";
import { refreshSession, startSession } from "../services/sessions";
import { deleteDevices, getDevice } from "../storage/devices";
import {
  deleteOAuthSession,
  getClientMetadata,
  getOAuthSession,
  insertClient,
  insertCode,
  redeemCode,
  upsertOAuthSessionStatement,
} from "../storage/oauth";
import { findLiveRefreshToken, findRotatedRefreshToken } from "../storage/refresh-rotation";
import { getAccessToken } from "../storage/tokens";
import { hashToken } from "../util/hash";
import { randomAlnum, randomToken } from "../util/random";
import type { ClientMetadata } from "./client-metadata";
import { OAuthError } from "./errors";
import { verifyS256 } from "./pkce";

/** Authorization codes live for a minute: the client redeems its code right after the redirect. */
export const CODE_LIFETIME_MS = 60_000;

/** OAuth access tokens are short-lived, as the spec asks (at most ACCESS_TOKEN_LIFETIME_MS); clients refresh them. */
const OAUTH_ACCESS_TOKEN_LIFETIME_MS = 300_000;
const oauthConfig = (config: Config): Config => ({
  ...config,
  ACCESS_TOKEN_LIFETIME_MS: Math.min(config.ACCESS_TOKEN_LIFETIME_MS, OAUTH_ACCESS_TOKEN_LIFETIME_MS),
});

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export async function registerClient(db: D1Database, metadata: ClientMetadata): Promise<{ clientId: string; issuedAt: number }> {
  const clientId = randomAlnum(24);
  const issuedAt = Date.now();
  await insertClient(db, clientId, JSON.stringify(metadata), issuedAt);
  return { clientId, issuedAt };
}

export async function getClient(db: D1Database, clientId: string): Promise<ClientMetadata | null> {
  const json = await getClientMetadata(db, clientId);
  return json === null ? null : (JSON.parse(json) as ClientMetadata);
}

/** Issues a code for a consented authorization request; only its hash is stored. */
export async function issueCode(
  db: D1Database,
  grant: { clientId: string; redirectUri: string; codeChallenge: string; userId: string; deviceId: string; scope: string },
): Promise<string> {
  const code = randomToken("mac");
  await insertCode(db, {
    code_hash: await hashToken(code),
    client_id: grant.clientId,
    redirect_uri: grant.redirectUri,
    code_challenge: grant.codeChallenge,
    user_id: grant.userId,
    device_id: grant.deviceId,
    scope: grant.scope,
    expires_ts: Date.now() + CODE_LIFETIME_MS,
  });
  return code;
}

const invalidGrant = (msg: string) => new OAuthError("invalid_grant", msg);

/**
 * The authorization code grant (RFC 6749 4.1.3 with PKCE). The code is used up by the first attempt whatever its
 * outcome; a second redemption of a code means it leaked, and the session it produced is revoked (4.1.2).
 */
export async function exchangeCode(
  db: D1Database,
  config: Config,
  req: { code: string; clientId: string; redirectUri: string; codeVerifier: string; ip: string | null },
): Promise<TokenResponse> {
  const { code, replayed } = await redeemCode(db, await hashToken(req.code));
  if (replayed) {
    await revokeDevice(db, replayed.user_id, replayed.device_id);
    throw invalidGrant("This authorization code was already used; the session it produced has been revoked");
  }
  if (!code) throw invalidGrant("Unknown authorization code");
  if (code.expires_ts <= Date.now()) throw invalidGrant("The authorization code has expired");
  if (code.client_id !== req.clientId) throw invalidGrant("The authorization code was issued to another client");
  if (code.redirect_uri !== req.redirectUri) throw invalidGrant("redirect_uri does not match the authorization request");
  if (!(await verifyS256(req.codeVerifier, code.code_challenge))) throw invalidGrant("The PKCE code verifier does not match");
  const client = await getClient(db, code.client_id);
  if (!client) throw invalidGrant("Unknown client");
  const session = await startSession(db, oauthConfig(config), {
    userId: code.user_id,
    deviceId: code.device_id,
    displayName: client.client_name,
    refresh: true,
    ip: req.ip,
  });
  await upsertOAuthSessionStatement(db, { user_id: code.user_id, device_id: code.device_id, client_id: code.client_id, scope: code.scope }).run();
  return {
    access_token: session.access_token,
    token_type: "Bearer",
    expires_in: Math.floor(session.expires_in_ms! / 1000),
    refresh_token: session.refresh_token!,
    scope: code.scope,
  };
}

/**
 * The refresh token grant (RFC 6749 6): only for the client the session was granted to. Rotation and reuse
 * detection are the same as /v3/refresh (a replayed refresh token revokes the device).
 */
export async function refreshGrant(db: D1Database, config: Config, req: { refreshToken: string; clientId: string }): Promise<TokenResponse> {
  const tokenHash = await hashToken(req.refreshToken);
  const owner = (await findLiveRefreshToken(db, tokenHash)) ?? (await findRotatedRefreshToken(db, tokenHash));
  if (!owner) throw invalidGrant("Unknown or expired refresh token");
  const session = await getOAuthSession(db, owner.user_id, owner.device_id);
  if (!session || session.client_id !== req.clientId) throw invalidGrant("The refresh token was issued to another client");
  try {
    const tokens = await refreshSession(db, oauthConfig(config), req.refreshToken);
    return {
      access_token: tokens.access_token,
      token_type: "Bearer",
      expires_in: Math.floor(tokens.expires_in_ms / 1000),
      refresh_token: tokens.refresh_token,
      scope: session.scope,
    };
  } catch (err) {
    if (err instanceof MatrixError && err.errcode === "M_UNKNOWN_TOKEN") throw invalidGrant(err.message);
    throw err;
  }
}

/**
 * Token revocation (RFC 7009): an access or refresh token ends its whole device session. Unknown, expired or
 * already revoked tokens are not an error. Any holder of a token may revoke it, whatever client_id it sends, as the
 * spec asks (so leaked tokens can be killed by whoever finds them).
 */
export async function revokeToken(db: D1Database, token: string, hint: "access_token" | "refresh_token" | undefined): Promise<void> {
  const tokenHash = await hashToken(token);
  const lookups = [
    async () => getAccessToken(db, tokenHash),
    async () => findLiveRefreshToken(db, tokenHash),
  ];
  if (hint === "refresh_token") lookups.reverse();
  for (const lookup of lookups) {
    const owner = await lookup();
    if (owner) return revokeDevice(db, owner.user_id, owner.device_id);
  }
}

/** The name of the user's existing device with this id, if any: signing in as it replaces that session. */
export async function existingDeviceName(db: D1Database, userId: string, deviceId: string): Promise<string | null> {
  const device = await getDevice(db, userId, deviceId);
  return device ? (device.display_name ?? device.device_id) : null;
}

export async function revokeDevice(db: D1Database, userId: string, deviceId: string): Promise<void> {
  await deleteDevices(db, userId, [deviceId]);
  await deleteOAuthSession(db, userId, deviceId);
}
