/**
 * The persistent data unit (a room event) in the format of room versions 10-12
 * (spec: rooms/v10.md .. v12.md, "Event format"). Pure types; no I/O.
 */
export type RoomVersionId = "10" | "11" | "12";

export interface Pdu {
  /** Absent on the create event of room version 12, where the room id is derived from the create event. */
  room_id?: string;
  sender: string;
  origin_server_ts: number;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  hashes: { sha256: string };
  signatures: Record<string, Record<string, string>>;
  unsigned?: Record<string, unknown>;
  /** Only in room versions before 11 (redactions carry `content.redacts` from v11). */
  redacts?: string;
  /** Kept by older room versions' redaction algorithm; not produced for new events. */
  [key: string]: unknown;
}

/** A PDU together with its event id (which is derived, never part of the PDU itself in these versions). */
export interface StoredPdu {
  event_id: string;
  pdu: Pdu;
}
