/**
 * Server signing keys and signatures (appendices: "Signing JSON", "Checking for a Signature";
 * server-server-api: "Signing Events"). ed25519 through @noble/ed25519, whose async API hashes with WebCrypto.
 */
import * as ed from "@noble/ed25519";
import { decodeBase64, encodeBase64 } from "../util/base64";
import { randomAlnum, randomBytes } from "../util/random";
import { canonicalJsonBytes } from "./canonical-json";
import { contentHash } from "./event-hashes";
import type { Pdu, RoomVersionId } from "./pdu";
import { redactEvent } from "./redaction";

export interface SigningKey {
  /** The signing key identifier, `ed25519:<key version>`. */
  keyId: string;
  /** The 32-byte ed25519 seed (RFC 8032 secret key) the key pair derives from. */
  seed: Uint8Array;
}

/** `signatures`: entity (server name) -> signing key identifier -> unpadded base64 signature. */
export type Signatures = Record<string, Record<string, string>>;

/** Any JSON object; `signatures` and `unsigned` are the two members a signature does not cover. */
export interface SignableJson {
  signatures?: Signatures;
  unsigned?: unknown;
  [key: string]: unknown;
}

const ED25519 = "ed25519:";

export function generateSigningKey(): SigningKey {
  // Key versions are `[a-zA-Z0-9_]`; a random one keeps a replaced key from colliding with an old one.
  return { keyId: `${ED25519}${randomAlnum(8)}`, seed: randomBytes(32) };
}

/** The public key as published in `verify_keys`: unpadded base64. */
export async function publicKeyOf(seed: Uint8Array): Promise<string> {
  return encodeBase64(await ed.getPublicKeyAsync(seed));
}

/**
 * Signs `obj` as `serverName` and returns a copy with the signature added; earlier signatures and `unsigned`
 * are kept but not signed, so other servers can add theirs and `unsigned` can change in transit.
 */
export async function signJson<T extends SignableJson>(
  obj: T,
  serverName: string,
  key: SigningKey,
): Promise<T & { signatures: Signatures }> {
  const { signatures, unsigned: _unsigned, ...signed } = obj;
  const signature = encodeBase64(await ed.signAsync(canonicalJsonBytes(signed), key.seed));
  return {
    ...obj,
    signatures: { ...signatures, [serverName]: { ...signatures?.[serverName], [key.keyId]: signature } },
  };
}

/**
 * Checks the signature of `serverName` under `keyId` with the given public key. False when the signature is
 * missing, not ed25519, not base64 or wrong; throws CanonicalJsonError when `obj` has no canonical form.
 */
export async function verifyJsonSignature(
  obj: SignableJson,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): Promise<boolean> {
  if (!keyId.startsWith(ED25519)) return false;
  const signature = obj.signatures?.[serverName]?.[keyId];
  if (typeof signature !== "string") return false;
  const { signatures: _signatures, unsigned: _unsigned, ...signed } = obj;
  const message = canonicalJsonBytes(signed);
  try {
    // Strict RFC 8032 checks (no ZIP-215 leniency), closer to libsodium, which other homeservers use.
    return await ed.verifyAsync(decodeBase64(signature), message, decodeBase64(publicKeyBase64), { zip215: false });
  } catch {
    // Undecodable base64 or wrong key/signature lengths: not a valid signature.
    return false;
  }
}

/**
 * Signs an event over its redacted form, so the signature still checks after a redaction; the content stays
 * covered through `hashes`. Returns the full event with the new signature.
 */
export async function signEvent(pdu: Pdu, version: RoomVersionId, serverName: string, key: SigningKey): Promise<Pdu> {
  const signed = await signJson(redactEvent(pdu, version), serverName, key);
  return { ...pdu, signatures: signed.signatures };
}

/** Checks an event's signature over its redacted form; succeeds for the full event and for a redacted copy. */
export async function verifyEventSignature(
  pdu: Pdu,
  version: RoomVersionId,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): Promise<boolean> {
  return verifyJsonSignature(redactEvent(pdu, version), serverName, keyId, publicKeyBase64);
}

/** How an outgoing event is finished: `hashes.sha256` first, because the signature covers it. */
export async function hashAndSignEvent(
  pdu: Pdu,
  version: RoomVersionId,
  serverName: string,
  key: SigningKey,
): Promise<Pdu> {
  const hashed: Pdu = { ...pdu, hashes: { sha256: await contentHash(pdu) } };
  return signEvent(hashed, version, serverName, key);
}
