import { encodeBase64Url } from "./base64";

const encoder = new TextEncoder();

export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** How tokens are stored: only their SHA-256, so a database leak yields no usable token. */
export async function hashToken(token: string): Promise<string> {
  return encodeBase64Url(await sha256(token));
}

/** Equal-time comparison of two byte strings. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Compares two secrets through their hashes, so the time taken tells nothing of either, even their lengths. */
export async function equalSecrets(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256(a), sha256(b)]);
  return timingSafeEqual(ha, hb);
}
