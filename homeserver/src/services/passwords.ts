import { decodeBase64, encodeBase64 } from "../util/base64";
import { randomBytes } from "../util/random";
import { timingSafeEqual } from "../util/hash";

/**
 * Password hashing: PBKDF2-HMAC-SHA-256 through WebCrypto, which runs natively in workerd (no wasm, no CPU spent
 * in JavaScript). 100,000 iterations is the most workerd's WebCrypto accepts; a hash costs about 30-40 ms of CPU,
 * which fits the Workers CPU budget. The stored form names the algorithm and its parameters
 * (`pbkdf2-sha256$<iterations>$<salt>$<hash>`), so a stronger scheme can be introduced later and old hashes
 * upgraded on the next successful login.
 */
const ALGORITHM = "pbkdf2-sha256";
const ITERATIONS = 100_000;
const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, ITERATIONS);
  return [ALGORITHM, ITERATIONS, encodeBase64(salt), encodeBase64(hash)].join("$");
}

/** A well-formed hash of no password, checked against when the user does not exist so timing does not tell. */
const DUMMY_HASH = [ALGORITHM, ITERATIONS, encodeBase64(new Uint8Array(16)), encodeBase64(new Uint8Array(32))].join("$");

/** Verifies a password in the same time whether or not there is a stored hash. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const [algorithm, iterations, salt, hash] = (stored ?? DUMMY_HASH).split("$");
  if (algorithm !== ALGORITHM || !iterations || !salt || !hash) return false;
  const derived = await derive(password, decodeBase64(salt), Number(iterations));
  return timingSafeEqual(derived, decodeBase64(hash)) && stored !== null;
}
