import type { EventRow } from "../storage/events";
import type { Pdu } from "./pdu";

/** The client event format (Client-Server API, "Room Event Format"). */
export interface ClientEvent {
  content: Record<string, unknown>;
  event_id: string;
  origin_server_ts: number;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  redacts?: string;
  unsigned?: Record<string, unknown>;
}

export interface ClientEventExtras {
  now: number;
  /** The redaction event, when this one was redacted. */
  redactedBecause?: ClientEvent;
  /** The client's transaction id, for the sending device only. */
  transactionId?: string;
  /** Server-side aggregations for unsigned.m.relations. */
  relations?: Record<string, unknown>;
}

export function toClientEvent(row: EventRow, extras: ClientEventExtras): ClientEvent {
  const pdu = JSON.parse(row.pdu) as Pdu;
  const unsigned: Record<string, unknown> = { ...(row.unsigned ? (JSON.parse(row.unsigned) as Record<string, unknown>) : {}) };
  unsigned["age"] = Math.max(0, extras.now - row.origin_server_ts);
  if (extras.redactedBecause) unsigned["redacted_because"] = extras.redactedBecause;
  if (extras.transactionId !== undefined) unsigned["transaction_id"] = extras.transactionId;
  if (extras.relations) unsigned["m.relations"] = extras.relations;
  const event: ClientEvent = {
    content: pdu.content,
    event_id: row.event_id,
    origin_server_ts: row.origin_server_ts,
    room_id: row.room_id,
    sender: row.sender,
    type: row.type,
    unsigned,
  };
  if (row.state_key !== null) event.state_key = row.state_key;
  // Clients of every room version read the redaction target at top level (and v11+ also in content).
  const redacts = pdu.redacts ?? pdu.content["redacts"];
  if (row.type === "m.room.redaction" && typeof redacts === "string") event.redacts = redacts;
  return event;
}
