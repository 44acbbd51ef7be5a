import type { Pdu } from "../rooms/pdu";

/** An event as stored: the PDU plus what the server knows about it. */
export interface EventRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
  depth: number;
  pdu: string;
  unsigned: string | null;
  relates_to: string | null;
  rel_type: string | null;
  redacted_by: string | null;
}

/** A client transaction: the device, the endpoint and room it was used on (`scope`), and its id. */
export interface TxnKey {
  userId: string;
  deviceId: string;
  scope: string;
  txnId: string;
}

export interface NewEvent {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  unsigned: Record<string, unknown> | null;
  /** The (user, device, txnId) the client sent it with, for idempotent retries. */
  txn?: TxnKey;
  /** An event this one redacts: its stored PDU is replaced by `redactedPdu` in the same commit. */
  redaction?: { targetEventId: string; redactedPdu: Pdu };
}

/** The statements that commit one event: the event, its state change, its transaction id, its redaction. */
export function insertEventStatements(db: D1Database, e: NewEvent): D1PreparedStatement[] {
  const relatesTo = e.pdu.content["m.relates_to"] as { event_id?: unknown; rel_type?: unknown } | undefined;
  const relEventId = typeof relatesTo?.event_id === "string" ? relatesTo.event_id : null;
  const relType = typeof relatesTo?.rel_type === "string" ? relatesTo.rel_type : null;
  const statements = [
    db
      .prepare(
        `INSERT INTO events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, pdu, unsigned, relates_to, rel_type)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        e.eventId,
        e.roomId,
        e.pdu.type,
        e.pdu.state_key ?? null,
        e.pdu.sender,
        e.pdu.origin_server_ts,
        e.pdu.depth,
        JSON.stringify(e.pdu),
        e.unsigned ? JSON.stringify(e.unsigned) : null,
        relEventId,
        relType,
      ),
  ];
  if (e.pdu.state_key !== undefined) {
    const membership = e.pdu.type === "m.room.member" && typeof e.pdu.content["membership"] === "string" ? e.pdu.content["membership"] : null;
    statements.push(
      db
        .prepare(
          `INSERT INTO current_state (room_id, type, state_key, event_id, stream_ordering, membership)
           VALUES (?1, ?2, ?3, ?4, (SELECT stream_ordering FROM events WHERE event_id = ?4), ?5)
           ON CONFLICT (room_id, type, state_key) DO UPDATE SET
             event_id = excluded.event_id, stream_ordering = excluded.stream_ordering, membership = excluded.membership`,
        )
        .bind(e.roomId, e.pdu.type, e.pdu.state_key, e.eventId, membership),
    );
  }
  if (e.txn) {
    statements.push(
      db
        .prepare("INSERT INTO event_txns (user_id, device_id, scope, txn_id, event_id, created_ts) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(e.txn.userId, e.txn.deviceId, e.txn.scope, e.txn.txnId, e.eventId, Date.now()),
    );
  }
  if (e.redaction) {
    statements.push(
      db
        .prepare("UPDATE events SET pdu = ?, redacted_by = ? WHERE event_id = ?")
        .bind(JSON.stringify(e.redaction.redactedPdu), e.eventId, e.redaction.targetEventId),
    );
  }
  return statements;
}

export function getEventRow(db: D1Database, eventId: string): Promise<EventRow | null> {
  return db.prepare("SELECT * FROM events WHERE event_id = ?").bind(eventId).first<EventRow>();
}

export async function getEventRows(db: D1Database, eventIds: string[]): Promise<EventRow[]> {
  if (eventIds.length === 0) return [];
  const rows = await db
    .prepare("SELECT e.* FROM events e JOIN json_each(?) j ON e.event_id = j.value")
    .bind(JSON.stringify(eventIds))
    .all<EventRow>();
  return rows.results;
}

export function getTxnEventId(db: D1Database, txn: TxnKey): Promise<string | null> {
  return db
    .prepare("SELECT event_id FROM event_txns WHERE user_id = ? AND device_id = ? AND scope = ? AND txn_id = ?")
    .bind(txn.userId, txn.deviceId, txn.scope, txn.txnId)
    .first<string>("event_id");
}

/** The latest event of a room (its forward extremity: room history is linear here). */
export function getLatestEvent(db: D1Database, roomId: string): Promise<EventRow | null> {
  return db
    .prepare("SELECT * FROM events WHERE room_id = ? ORDER BY stream_ordering DESC LIMIT 1")
    .bind(roomId)
    .first<EventRow>();
}

/** The room's current state events. */
export async function getCurrentStateRows(db: D1Database, roomId: string): Promise<EventRow[]> {
  const rows = await db
    .prepare("SELECT e.* FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ? ORDER BY c.stream_ordering")
    .bind(roomId)
    .all<EventRow>();
  return rows.results;
}

export function getCurrentStateRow(db: D1Database, roomId: string, type: string, stateKey: string): Promise<EventRow | null> {
  return db
    .prepare("SELECT e.* FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ? AND c.type = ? AND c.state_key = ?")
    .bind(roomId, type, stateKey)
    .first<EventRow>();
}

/**
 * The room's state as it was right after the event at `streamOrdering` (history is linear, so the state at a point
 * is the latest state event of each (type, state_key) at or before it).
 */
export async function getStateRowsAt(db: D1Database, roomId: string, streamOrdering: number): Promise<EventRow[]> {
  return (await stateRowsAtStatement(db, roomId, streamOrdering).all<EventRow>()).results;
}

/** The statement of `getStateRowsAt`, for callers that batch it over many rooms (sync). */
export function stateRowsAtStatement(db: D1Database, roomId: string, streamOrdering: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT e.* FROM events e
       JOIN (SELECT MAX(stream_ordering) AS so FROM events
             WHERE room_id = ?1 AND state_key IS NOT NULL AND stream_ordering <= ?2
             GROUP BY type, state_key) latest ON e.stream_ordering = latest.so
       ORDER BY e.stream_ordering`,
    )
    .bind(roomId, streamOrdering);
}

/** One state entry as it was right after `streamOrdering`. */
export function getStateRowAt(
  db: D1Database,
  roomId: string,
  type: string,
  stateKey: string,
  streamOrdering: number,
): Promise<EventRow | null> {
  return db
    .prepare(
      `SELECT * FROM events WHERE room_id = ? AND type = ? AND state_key = ? AND stream_ordering <= ?
       ORDER BY stream_ordering DESC LIMIT 1`,
    )
    .bind(roomId, type, stateKey, streamOrdering)
    .first<EventRow>();
}

/** A window of a room's timeline, strictly after `after` and at or before `upTo`, in the given direction. */
export async function getTimelineRows(
  db: D1Database,
  roomId: string,
  opts: { after: number; upTo: number; dir: "f" | "b"; limit: number },
): Promise<EventRow[]> {
  return (await timelineRowsStatement(db, roomId, opts).all<EventRow>()).results;
}

/** The statement of `getTimelineRows`, for callers that batch it over many rooms (sync). */
export function timelineRowsStatement(
  db: D1Database,
  roomId: string,
  opts: { after: number; upTo: number; dir: "f" | "b"; limit: number },
): D1PreparedStatement {
  const order = opts.dir === "f" ? "ASC" : "DESC";
  return db
    .prepare(
      `SELECT * FROM events WHERE room_id = ? AND stream_ordering > ? AND stream_ordering <= ?
       ORDER BY stream_ordering ${order} LIMIT ?`,
    )
    .bind(roomId, opts.after, opts.upTo, opts.limit);
}

export function maxStreamOrdering(db: D1Database): Promise<number> {
  return db.prepare("SELECT COALESCE(MAX(stream_ordering), 0) AS m FROM events").first<number>("m").then((m) => m ?? 0);
}
