import type { Config } from "../config";
import { unknownToken } from "../http/errors";
import type { Requester } from "../http/types";
import { deleteDevices, upsertDeviceStatement } from "../storage/devices";
import { rotateRefreshToken } from "../storage/refresh-rotation";
import {
  deleteDeviceAccessTokensStatement,
  getAccessToken,
  markAccessTokenUsed,
  insertAccessTokenStatement,
  insertRefreshTokenStatement,
} from "../storage/tokens";
import { hashToken } from "../util/hash";
import { randomDeviceId, randomToken } from "../util/random";

export interface IssuedSession {
  user_id: string;
  device_id: string;
  access_token: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

interface TokenPair {
  access_token: string;
  refresh_token?: string;
  expires_in_ms?: number;
  statements: D1PreparedStatement[];
}

/** Makes a new access token (and refresh token if asked) for a device, as statements to commit together. */
async function newTokens(
  db: D1Database,
  config: Config,
  userId: string,
  deviceId: string,
  withRefresh: boolean,
): Promise<TokenPair> {
  const accessToken = randomToken("mat");
  const now = Date.now();
  const statements = [
    insertAccessTokenStatement(db, {
      tokenHash: await hashToken(accessToken),
      userId,
      deviceId,
      // Access tokens expire only when the client can refresh them; the spec's non-refreshing clients keep theirs.
      expiresTs: withRefresh ? now + config.ACCESS_TOKEN_LIFETIME_MS : null,
    }),
  ];
  if (!withRefresh) return { access_token: accessToken, statements };
  const refreshToken = randomToken("mar");
  statements.push(
    insertRefreshTokenStatement(db, {
      tokenHash: await hashToken(refreshToken),
      userId,
      deviceId,
      expiresTs: now + config.REFRESH_TOKEN_LIFETIME_MS,
    }),
  );
  return {
    access_token: accessToken,
    refresh_token: refreshToken,
    expires_in_ms: config.ACCESS_TOKEN_LIFETIME_MS,
    statements,
  };
}

/**
 * Logs a user in on a device: creates the device (or reuses the one named), replaces its old tokens, and issues
 * new ones, all in one batch.
 */
export async function startSession(
  db: D1Database,
  config: Config,
  opts: { userId: string; deviceId?: string; displayName?: string; refresh: boolean; ip: string | null },
): Promise<IssuedSession> {
  const deviceId = opts.deviceId ?? randomDeviceId();
  const tokens = await newTokens(db, config, opts.userId, deviceId, opts.refresh);
  await db.batch([
    upsertDeviceStatement(db, { userId: opts.userId, deviceId, displayName: opts.displayName ?? null, ip: opts.ip }),
    deleteDeviceAccessTokensStatement(db, opts.userId, deviceId),
    db.prepare("DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?").bind(opts.userId, deviceId),
    ...tokens.statements,
  ]);
  const { statements: _, ...issued } = tokens;
  return { user_id: opts.userId, device_id: deviceId, ...issued };
}

/** Resolves an access token to the requester; unknown or expired tokens answer M_UNKNOWN_TOKEN. */
export async function authenticate(db: D1Database, token: string): Promise<Requester> {
  const tokenHash = await hashToken(token);
  const row = await getAccessToken(db, tokenHash);
  if (!row) throw unknownToken("Unknown access token");
  if (row.expires_ts !== null && row.expires_ts <= Date.now()) {
    // An expired token of a refreshing client: the client should refresh, so this is a soft logout.
    throw unknownToken("Access token has expired", true);
  }
  if (row.expires_ts !== null && row.first_used_ts === null) await markAccessTokenUsed(db, tokenHash);
  return { userId: row.user_id, deviceId: row.device_id, tokenHash };
}

/**
 * Exchanges a refresh token for a new pair. The old refresh token and the device's old access token stop working
 * at once. The old refresh token presented again is a retry (the answer was lost) while the pair it got is unused:
 * a new pair replaces that one. Presented after that pair was used, it has leaked (or been replayed), so the whole
 * device is signed out.
 */
export async function refreshSession(
  db: D1Database,
  config: Config,
  refreshToken: string,
): Promise<Required<Pick<IssuedSession, "access_token" | "refresh_token" | "expires_in_ms">>> {
  const accessToken = randomToken("mat");
  const newRefreshToken = randomToken("mar");
  const now = Date.now();
  const outcome = await rotateRefreshToken(db, {
    oldHash: await hashToken(refreshToken),
    newAccessHash: await hashToken(accessToken),
    newRefreshHash: await hashToken(newRefreshToken),
    accessExpiresTs: now + config.ACCESS_TOKEN_LIFETIME_MS,
    refreshExpiresTs: now + config.REFRESH_TOKEN_LIFETIME_MS,
  });
  if (outcome.kind === "reused") {
    await deleteDevices(db, outcome.session.user_id, [outcome.session.device_id]);
    throw unknownToken("Refresh token was already used; the session has been revoked");
  }
  if (outcome.kind === "expired") throw unknownToken("Refresh token has expired");
  if (outcome.kind === "unknown") throw unknownToken("Unknown refresh token");
  return { access_token: accessToken, refresh_token: newRefreshToken, expires_in_ms: config.ACCESS_TOKEN_LIFETIME_MS };
}
