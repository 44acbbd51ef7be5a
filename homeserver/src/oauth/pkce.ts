import { encodeBase64Url } from "../util/base64";
import { sha256, timingSafeEqual } from "../util/hash";

/** RFC 7636 4.1: 43 to 128 characters from the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is the unpadded base64url of a SHA-256 digest: exactly 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

/** Checks a code verifier against the S256 challenge stored with the code, in constant time. */
export async function verifyS256(verifier: string, challenge: string): Promise<boolean> {
  if (!VERIFIER.test(verifier)) return false;
  const computed = new TextEncoder().encode(encodeBase64Url(await sha256(verifier)));
  return timingSafeEqual(computed, new TextEncoder().encode(challenge));
}
