import { canonicalJson } from "../rooms/canonical-json";
import { type SignableJson, verifyJsonSignature } from "../rooms/signing";

/** Signed key objects as the e2ee module handles them: compared and verified without their signatures. */

/**
 * The part of a key object its signatures cover, as canonical JSON: two uploads are "the same key" when equal.
 * An object with no canonical form gets a string no canonical JSON equals (it starts with `!`).
 */
export function signedPart(obj: SignableJson): string {
  const { signatures: _signatures, unsigned: _unsigned, ...signed } = obj;
  return sameKeyForm(signed);
}

/** The whole object (signatures included) in the same comparable form. */
export function wholeForm(obj: SignableJson): string {
  const { unsigned: _unsigned, ...rest } = obj;
  return sameKeyForm(rest);
}

function sameKeyForm(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch {
    return `!${JSON.stringify(value)}`;
  }
}

/** Whether `obj` carries a valid signature of `userId` with the ed25519 key `keyId` (`ed25519:<id>`) = `publicKey`. */
export async function hasValidSignature(obj: SignableJson, userId: string, keyId: string, publicKey: string): Promise<boolean> {
  try {
    return await verifyJsonSignature(obj, userId, keyId, publicKey);
  } catch {
    // No canonical form (floats, lone surrogates): nothing can have signed it.
    return false;
  }
}

/** Merges extra signatures (user -> key id -> signature) into a key object's own. */
export function withSignatures<T extends SignableJson>(obj: T, extra: { userId: string; keyId: string; signature: string }[]): T {
  if (extra.length === 0) return obj;
  const signatures: Record<string, Record<string, string>> = {};
  for (const [user, sigs] of Object.entries(obj.signatures ?? {})) signatures[user] = { ...sigs };
  for (const s of extra) (signatures[s.userId] ??= {})[s.keyId] = s.signature;
  return { ...obj, signatures };
}
