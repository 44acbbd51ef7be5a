// Tokens at rest (a login's bot or user token in a Durable Object): sealed with AES-256-GCM under BRIDGE_SECRET_KEY.
import { decodeBase64, encodeBase64Url } from "../../homeserver/src/util/base64";
import { randomBytes } from "../../homeserver/src/util/random";

const VERSION = "v1";
/** HKDF's info: binds the derived key to this one use, so the same secret can key other things safely. */
const HKDF_INFO = new TextEncoder().encode("matrix-workers bridge token sealing v1");
const MIN_SECRET_LENGTH = 32;

type SecretEnv = Pick<Env, "BRIDGE_SECRET_KEY">;

let derived: { secret: string; key: Promise<CryptoKey> } | null = null;

/** Whether tokens can be sealed here: BRIDGE_SECRET_KEY is set and long enough. */
export function canSealTokens(env: SecretEnv): boolean {
  return (env.BRIDGE_SECRET_KEY?.length ?? 0) >= MIN_SECRET_LENGTH;
}

/** The AES-256-GCM key derived (HKDF-SHA256) from the Worker secret; derived once per secret value. */
function sealingKey(env: SecretEnv): Promise<CryptoKey> {
  const secret = env.BRIDGE_SECRET_KEY;
  if (secret === undefined || !canSealTokens(env)) {
    throw new Error(`BRIDGE_SECRET_KEY is ${secret === undefined ? "not set" : "too short"}: set a Worker secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (derived?.secret !== secret) {
    const key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO }, material, { name: "AES-GCM", length: 256 }, false, [
          "encrypt",
          "decrypt",
        ]),
      );
    derived = { secret, key };
  }
  return derived.key;
}

/** Encrypts a token: "v1.<base64url iv>.<base64url ciphertext>", a fresh 96-bit IV each time; the version is authenticated. */
export async function sealToken(env: SecretEnv, plaintext: string): Promise<string> {
  const key = await sealingKey(env);
  const iv = randomBytes(12);
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(VERSION) }, key, new TextEncoder().encode(plaintext));
  return `${VERSION}.${encodeBase64Url(iv)}.${encodeBase64Url(new Uint8Array(ciphertext))}`;
}

/** Decrypts a sealed token; throws a clear Error when it is malformed, tampered with, or sealed under another key. */
export async function openToken(env: SecretEnv, sealed: string): Promise<string> {
  const key = await sealingKey(env);
  const [version, iv, ciphertext, ...rest] = sealed.split(".");
  if (version !== VERSION || iv === undefined || ciphertext === undefined || rest.length > 0) throw new Error(`Not a sealed ${VERSION} token`);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv: decodeBase64(iv), additionalData: new TextEncoder().encode(VERSION) }, key, decodeBase64(ciphertext));
  } catch {
    throw new Error("Sealed token cannot be opened: it was tampered with, or BRIDGE_SECRET_KEY changed");
  }
  return new TextDecoder().decode(plaintext);
}
