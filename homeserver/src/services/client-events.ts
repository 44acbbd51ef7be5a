import type { Requester } from "../http/types";
import { type ClientEvent, toClientEvent } from "../rooms/client-event";
import { type EventRow, getEventRows } from "../storage/events";
import { transactionIdsFor } from "../storage/txns";
import { aggregationsFor } from "./relations";

/**
 * Serializes stored events for one requester: adds `redacted_because`, the requester's own `transaction_id`,
 * `age` and the bundled relation aggregations, in a fixed number of batched reads whatever the number of events.
 */
export async function clientEvents(db: D1Database, requester: Requester, rows: EventRow[]): Promise<ClientEvent[]> {
  if (rows.length === 0) return [];
  const redactionIds = [...new Set(rows.flatMap((r) => (r.redacted_by ? [r.redacted_by] : [])))];
  const own = rows.filter((r) => r.sender === requester.userId).map((r) => r.event_id);
  const [redactions, txnIds, aggregations] = await Promise.all([
    getEventRows(db, redactionIds),
    transactionIdsFor(db, requester.userId, requester.deviceId, own),
    aggregationsFor(db, requester, rows),
  ]);
  const now = Date.now();
  const redactionById = new Map(redactions.map((r) => [r.event_id, toClientEvent(r, { now })]));
  return rows.map((row) =>
    toClientEvent(row, {
      now,
      redactedBecause: row.redacted_by ? redactionById.get(row.redacted_by) : undefined,
      transactionId: txnIds.get(row.event_id),
      relations: aggregations.get(row.event_id),
    }),
  );
}
