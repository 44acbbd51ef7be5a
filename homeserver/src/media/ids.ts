import { encodeBase64Url } from "../util/base64";
import { randomBytes } from "../util/random";

/** 18 random bytes: 24 URL-safe characters, 144 bits, so media ids cannot be guessed or enumerated. */
export function newMediaId(): string {
  return encodeBase64Url(randomBytes(18));
}

/** The spec's media id alphabet: anything else (`.`, `/`, `%`) could be a traversal attempt. */
export function isValidMediaId(mediaId: string): boolean {
  return /^[A-Za-z0-9_-]{1,255}$/.test(mediaId);
}

/** A server name as the appendices define it: a DNS name, IPv4 or [IPv6] literal, with an optional port. */
export function isValidServerName(serverName: string): boolean {
  if (serverName.length > 255) return false;
  const match = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::(\d{1,5}))?$/.exec(serverName);
  if (!match) return false;
  const port = match[2];
  return port === undefined || Number(port) <= 65535;
}
