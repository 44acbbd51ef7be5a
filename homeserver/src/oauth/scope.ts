import { OAuthError } from "./errors";

/** Full Client-Server API access: the stable token and MSC2967's unstable one (older Element X builds). */
const API_SCOPES = new Set(["urn:matrix:client:api:*", "urn:matrix:org.matrix.msc2967.client:api:*"]);
const DEVICE_PREFIXES = ["urn:matrix:client:device:", "urn:matrix:org.matrix.msc2967.client:device:"];
/** Device ids from the unreserved set of RFC 3986, as the spec recommends clients generate them. */
const DEVICE_ID = /^[A-Za-z0-9._~-]{1,255}$/;

export interface GrantedScope {
  deviceId: string;
  /** The scope string granted back to the client, in the form it asked for. */
  scope: string;
}

/**
 * Parses a requested scope (RFC 6749 3.3). It must grant API access and allocate exactly one device; `openid` is
 * tolerated and dropped (no ID tokens are issued); anything else is invalid_scope.
 */
export function parseScope(requested: string | undefined): GrantedScope {
  if (!requested) throw new OAuthError("invalid_scope", "A scope is required");
  const tokens = [...new Set(requested.split(" ").filter((t) => t !== ""))];
  const granted: string[] = [];
  const deviceIds: string[] = [];
  let api = false;
  for (const token of tokens) {
    if (API_SCOPES.has(token)) {
      api = true;
      granted.push(token);
      continue;
    }
    const prefix = DEVICE_PREFIXES.find((p) => token.startsWith(p));
    if (prefix) {
      const deviceId = token.slice(prefix.length);
      if (!DEVICE_ID.test(deviceId)) throw new OAuthError("invalid_scope", "Device ids may use only A-Z, a-z, 0-9 and -._~");
      deviceIds.push(deviceId);
      granted.push(token);
      continue;
    }
    if (token === "openid") continue;
    throw new OAuthError("invalid_scope", `Unknown scope token ${token}`);
  }
  if (!api) throw new OAuthError("invalid_scope", "The scope must include urn:matrix:client:api:*");
  if (deviceIds.length !== 1) throw new OAuthError("invalid_scope", "The scope must include exactly one urn:matrix:client:device:<device_id>");
  return { deviceId: deviceIds[0]!, scope: granted.join(" ") };
}
