/**
 * Turns a client's intent (an event template) into a signed PDU on top of a room's current state: selects
 * auth_events, sets prev_events/depth, hashes, signs and derives the event id. Pure apart from WebCrypto.
 */
import type { SigningKey } from "./signing";
import { hashAndSignEvent } from "./signing";
import { eventIdFor } from "./event-hashes";
import { CanonicalJsonError, canonicalJsonBytes } from "./canonical-json";
import { authEventTypesFor, stateKeyOf } from "./auth-rules";
import type { Pdu, RoomVersionId } from "./pdu";
import { ROOM_VERSIONS } from "./room-versions";

export interface EventTemplate {
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
  /** The redaction target (placed per room version: top-level before v11, in content from v11). */
  redacts?: string;
}

export interface RoomEvent {
  event_id: string;
  pdu: Pdu;
}

/** The spec's cap on a whole PDU (server-server API, "Size limits"). */
export const MAX_PDU_BYTES = 65_536;
const MAX_STATE_KEY_BYTES = 255;
const MAX_TYPE_BYTES = 255;

/** Why an event cannot be built, with the Matrix error a client should get for it. */
export class InvalidEvent extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly errcode: "M_BAD_JSON" | "M_TOO_LARGE",
    message: string,
  ) {
    super(message);
  }
}
const tooLarge = (message: string) => new InvalidEvent(413, "M_TOO_LARGE", message);

export interface BuildContext {
  roomId: string | undefined;
  version: RoomVersionId;
  state: ReadonlyMap<string, RoomEvent>;
  prev: { event_id: string; depth: number } | null;
  serverName: string;
  key: SigningKey;
  ts: number;
}

export async function buildEvent(ctx: BuildContext, template: EventTemplate): Promise<RoomEvent> {
  const rules = ROOM_VERSIONS[ctx.version];
  const byteLength = (s: string) => new TextEncoder().encode(s).byteLength;
  if (template.state_key !== undefined && byteLength(template.state_key) > MAX_STATE_KEY_BYTES) {
    throw tooLarge("state_key is over 255 bytes");
  }
  if (byteLength(template.type) > MAX_TYPE_BYTES) throw tooLarge("type is over 255 bytes");

  const content = { ...template.content };
  const pdu: Pdu = {
    type: template.type,
    sender: template.sender,
    content,
    origin_server_ts: ctx.ts,
    prev_events: ctx.prev ? [ctx.prev.event_id] : [],
    auth_events: selectAuthEvents(ctx, template),
    depth: ctx.prev ? ctx.prev.depth + 1 : 1,
    hashes: { sha256: "" },
    signatures: {},
  };
  if (ctx.roomId !== undefined) pdu.room_id = ctx.roomId;
  if (template.state_key !== undefined) pdu.state_key = template.state_key;
  if (template.redacts !== undefined) {
    if (rules.redactsInContent) content["redacts"] = template.redacts;
    else pdu.redacts = template.redacts;
  }
  let signed: Pdu;
  try {
    signed = await hashAndSignEvent(pdu, ctx.version, ctx.serverName, ctx.key);
  } catch (err) {
    // Content that has no canonical JSON form (lone surrogates, integers beyond 2^53) cannot be hashed or signed.
    if (err instanceof CanonicalJsonError) throw new InvalidEvent(400, "M_BAD_JSON", `Event content is not valid canonical JSON: ${err.message}`);
    throw err;
  }
  if (canonicalJsonBytes(signed).byteLength > MAX_PDU_BYTES) throw tooLarge("event is over 65536 bytes");
  return { event_id: await eventIdFor(signed, ctx.version), pdu: signed };
}

/** The spec's auth events selection, from the current state (v12 never lists the create event). */
function selectAuthEvents(ctx: BuildContext, template: EventTemplate): string[] {
  if (template.type === "m.room.create") return [];
  const ids: string[] = [];
  for (const [type, stateKey] of authEventTypesFor(ctx.version, template)) {
    if (type === "m.room.create" && ROOM_VERSIONS[ctx.version].roomIdFromCreateEvent) continue;
    const event = ctx.state.get(stateKeyOf(type, stateKey));
    if (event && !ids.includes(event.event_id)) ids.push(event.event_id);
  }
  return ids;
}

/** The auth state an event is checked against: its auth_events, plus the create event that v12 implies. */
export function authStateFor(pdu: Pdu, state: ReadonlyMap<string, RoomEvent>): Map<string, RoomEvent> {
  const authState = new Map<string, RoomEvent>();
  const wanted = new Set(pdu.auth_events);
  for (const [key, event] of state) {
    if (wanted.has(event.event_id) || event.pdu.type === "m.room.create") authState.set(key, event);
  }
  return authState;
}
