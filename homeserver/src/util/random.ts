import { encodeBase64Url } from "./base64";

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A high-entropy opaque token (256 bits) with a readable prefix. */
export function randomToken(prefix: string): string {
  return `${prefix}_${encodeBase64Url(randomBytes(32))}`;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** An uppercase id like the device ids Synapse hands out (10 letters, ~47 bits). */
export function randomDeviceId(): string {
  return Array.from(randomBytes(10), (b) => ALPHABET[b % 26]).join("");
}

/** A lowercase alphanumeric string, for generated localparts and session ids. */
export function randomAlnum(n: number): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join("");
}
