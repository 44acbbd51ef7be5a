/** The client transaction ids a device used for the given events (only that device sees them). */
export async function transactionIdsFor(db: D1Database, userId: string, deviceId: string, eventIds: string[]): Promise<Map<string, string>> {
  if (eventIds.length === 0) return new Map();
  // CROSS JOIN fixes the order: one event_txns_event probe per id. Left to itself SQLite walks all of the device's
  // transactions and scans the id list for each (quadratic: 300 ms for 1,000 events of a user who sent 5,000).
  const rows = await db
    .prepare(
      "SELECT t.event_id, t.txn_id FROM json_each(?) j CROSS JOIN event_txns t ON t.event_id = j.value WHERE t.user_id = ? AND t.device_id = ?",
    )
    .bind(JSON.stringify(eventIds), userId, deviceId)
    .all<{ event_id: string; txn_id: string }>();
  return new Map(rows.results.map((r) => [r.event_id, r.txn_id]));
}
