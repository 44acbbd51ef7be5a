/** The client transaction ids a device used for the given events (only that device sees them). */
export async function transactionIdsFor(db: D1Database, userId: string, deviceId: string, eventIds: string[]): Promise<Map<string, string>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db
    .prepare("SELECT t.event_id, t.txn_id FROM event_txns t JOIN json_each(?) j ON t.event_id = j.value WHERE t.user_id = ? AND t.device_id = ?")
    .bind(JSON.stringify(eventIds), userId, deviceId)
    .all<{ event_id: string; txn_id: string }>();
  return new Map(rows.results.map((r) => [r.event_id, r.txn_id]));
}
