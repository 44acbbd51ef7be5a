/**
 * User identifiers (appendices: "User Identifiers"). Localparts allowed for new users: a-z, 0-9, and `._=-/+`;
 * the whole user id at most 255 bytes.
 */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;
const MAX_USER_ID_BYTES = 255;

export function isValidLocalpart(localpart: string, serverName: string): boolean {
  return LOCALPART.test(localpart) && byteLength(`@${localpart}:${serverName}`) <= MAX_USER_ID_BYTES;
}

export function byteLength(s: string): number {
  return new TextEncoder().encode(s).byteLength;
}

/** Splits `@localpart:server` (historical localparts allowed, as other servers may have them). */
export function parseUserId(userId: string): { localpart: string; serverName: string } | null {
  if (!userId.startsWith("@") || byteLength(userId) > MAX_USER_ID_BYTES) return null;
  const colon = userId.indexOf(":");
  if (colon < 2) return null;
  const localpart = userId.slice(1, colon);
  const serverName = userId.slice(colon + 1);
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(localpart) || serverName === "") return null;
  return { localpart, serverName };
}

/**
 * Resolves an `m.id.user` identifier (full user id or bare localpart) to a local user id, or null if it is not
 * one of ours. Localparts are matched lower-cased, as new ones are always lower case.
 */
export function parseUserIdentifier(identifier: unknown, serverName: string): string | null {
  if (typeof identifier !== "object" || identifier === null) return null;
  const { type, user } = identifier as { type?: unknown; user?: unknown };
  if (type !== "m.id.user" || typeof user !== "string") return null;
  if (user.startsWith("@")) {
    const parsed = parseUserId(user);
    if (!parsed || parsed.serverName !== serverName) return null;
    return `@${parsed.localpart.toLowerCase()}:${serverName}`;
  }
  return `@${user.toLowerCase()}:${serverName}`;
}
