import type { Requester } from "../http/types";
import { type ClientEvent, toClientEvent } from "../rooms/client-event";
import { type EventRow, getEventRows } from "../storage/events";
import { transactionIdsFor } from "../storage/txns";

/**
 * Serializes stored events for one requester: adds `redacted_because`, the requester's own `transaction_id`,
 * and `age`. Batched: two reads whatever the number of events.
 */
export async function clientEvents(db: D1Database, requester: Requester, rows: EventRow[]): Promise<ClientEvent[]> {
  if (rows.length === 0) return [];
  const redactionIds = [...new Set(rows.flatMap((r) => (r.redacted_by ? [r.redacted_by] : [])))];
  const own = rows.filter((r) => r.sender === requester.userId).map((r) => r.event_id);
  const [redactions, txnIds] = await Promise.all([
    getEventRows(db, redactionIds),
    transactionIdsFor(db, requester.userId, requester.deviceId, own),
  ]);
  const now = Date.now();
  const redactionById = new Map(redactions.map((r) => [r.event_id, toClientEvent(r, { now })]));
  return rows.map((row) =>
    toClientEvent(row, {
      now,
      redactedBecause: row.redacted_by ? redactionById.get(row.redacted_by) : undefined,
      transactionId: txnIds.get(row.event_id),
    }),
  );
}
