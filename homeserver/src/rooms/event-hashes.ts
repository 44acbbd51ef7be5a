/**
 * Content hashes, reference hashes, event ids and v12 room ids (server-server-api: "Calculating the content hash
 * for an event", "Calculating the reference hash for an event"; rooms/fragments/v4-event-ids.md; rooms/v12.md).
 */
import { decodeBase64, encodeBase64, encodeBase64Url } from "../util/base64";
import { sha256, timingSafeEqual } from "../util/hash";
import { canonicalJsonBytes } from "./canonical-json";
import type { Pdu, RoomVersionId } from "./pdu";
import { redactEvent } from "./redaction";

/**
 * SHA-256 over the complete, unredacted event, as unpadded base64 for `hashes.sha256`. `hashes` is left out
 * because the hash cannot cover itself; `signatures` and `unsigned` because they change after sending.
 */
export async function contentHash(pdu: Pdu): Promise<string> {
  return encodeBase64(await contentHashBytes(pdu));
}

async function contentHashBytes(pdu: Pdu): Promise<Uint8Array> {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...hashed } = pdu;
  return sha256(canonicalJsonBytes(hashed));
}

/**
 * Whether `hashes.sha256` matches the event. A mismatch means the event was redacted on the way (or tampered
 * with), and the receiver must then use the redacted form.
 */
export async function verifyContentHash(pdu: Pdu): Promise<boolean> {
  let claimed: Uint8Array;
  try {
    claimed = decodeBase64(pdu.hashes.sha256);
  } catch {
    return false;
  }
  return timingSafeEqual(claimed, await contentHashBytes(pdu));
}

/**
 * SHA-256 over the redacted event without `signatures` and `unsigned`. It covers the content through
 * `hashes`, so it stays the same when the event is later redacted. A legacy top-level `age_ts` needs no
 * special case: the redaction algorithm already drops it.
 */
export async function referenceHash(pdu: Pdu, version: RoomVersionId): Promise<Uint8Array> {
  const { signatures: _signatures, unsigned: _unsigned, ...hashed } = redactEvent(pdu, version);
  return sha256(canonicalJsonBytes(hashed));
}

/** Room versions 4+: `$` and the reference hash in URL-safe unpadded base64. */
export async function eventIdFor(pdu: Pdu, version: RoomVersionId): Promise<string> {
  return `$${encodeBase64Url(await referenceHash(pdu, version))}`;
}

/** Room version 12: the room id is the create event's id with the sigil `!` instead of `$`. */
export function roomIdFromCreateEvent(createEventId: string): string {
  if (!createEventId.startsWith("$")) throw new Error(`not an event id: ${createEventId}`);
  return `!${createEventId.slice(1)}`;
}
