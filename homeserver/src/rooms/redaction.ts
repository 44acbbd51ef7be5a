/**
 * The redaction algorithm (rooms/fragments/v9-redactions.md for v10, v11-redactions.md for v11 and v12): what is
 * left of an event when it is redacted, and the form that reference hashes and signatures cover.
 *
 * Pure: the input is never modified. The result shares nested values it keeps (arrays, `signatures`, kept
 * content values) with the input, so treat both as immutable.
 */
import type { Pdu, RoomVersionId } from "./pdu";
import { ROOM_VERSIONS } from "./room-versions";

/** Top-level keys the v9 algorithm keeps (room version 10). */
const V9_EVENT_KEYS: ReadonlySet<string> = new Set([
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "prev_state",
  "auth_events",
  "origin",
  "origin_server_ts",
  "membership",
]);

/** v11 no longer protects `origin`, `membership` and `prev_state`. */
const V11_EVENT_KEYS: ReadonlySet<string> = new Set(
  [...V9_EVENT_KEYS].filter((key) => key !== "origin" && key !== "membership" && key !== "prev_state"),
);

const POWER_LEVELS_V9_KEYS = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];

/** Content keys kept per event type; a type not listed keeps no content. `m.room.create` in v11 keeps all. */
const V9_CONTENT_KEYS: Readonly<Record<string, readonly string[]>> = {
  "m.room.member": ["membership", "join_authorised_via_users_server"],
  "m.room.create": ["creator"],
  "m.room.join_rules": ["join_rule", "allow"],
  "m.room.power_levels": POWER_LEVELS_V9_KEYS,
  "m.room.history_visibility": ["history_visibility"],
};

const V11_CONTENT_KEYS: Readonly<Record<string, readonly string[]>> = {
  "m.room.member": ["membership", "join_authorised_via_users_server"],
  "m.room.join_rules": ["join_rule", "allow"],
  "m.room.power_levels": [...POWER_LEVELS_V9_KEYS, "invite"],
  "m.room.history_visibility": ["history_visibility"],
  "m.room.redaction": ["redacts"],
};

export function redactEvent(pdu: Pdu, version: RoomVersionId): Pdu {
  const keep = ROOM_VERSIONS[version].redaction === "v11" ? V11_EVENT_KEYS : V9_EVENT_KEYS;
  const redacted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pdu)) {
    if (keep.has(key)) redacted[key] = value;
  }
  redacted.content = redactContent(pdu.type, pdu.content, version);
  // Every key the Pdu type requires is in both keep-lists, so the result is still a Pdu.
  return redacted as Pdu;
}

export function redactContent(
  type: string,
  content: Readonly<Record<string, unknown>>,
  version: RoomVersionId,
): Record<string, unknown> {
  const v11 = ROOM_VERSIONS[version].redaction === "v11";
  // v11: the create event is never redacted, so a room's creators and settings survive.
  if (v11 && type === "m.room.create") return { ...content };

  const redacted: Record<string, unknown> = {};
  for (const key of (v11 ? V11_CONTENT_KEYS : V9_CONTENT_KEYS)[type] ?? []) {
    if (Object.hasOwn(content, key)) redacted[key] = content[key];
  }
  // v11 keeps what the auth rules check of a third-party invite (`signed`) but not what is only shown
  // (`display_name`). An object without `signed` stays as `{}`, as Synapse does; the spec does not say.
  if (v11 && type === "m.room.member") {
    const invite = content.third_party_invite;
    if (isJsonObject(invite)) {
      redacted.third_party_invite = Object.hasOwn(invite, "signed") ? { signed: invite.signed } : {};
    }
  }
  return redacted;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
