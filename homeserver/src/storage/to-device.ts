/**
 * To-device messages (migrations/0006). Each message takes its own position of the shared stream counter
 * (migrations/0003): a send of N messages bumps the counter by N in the same transaction, so a sync that can only
 * deliver part of a device's queue can stop its token exactly after the last message it delivered.
 */

const TXN_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface ToDeviceTarget {
  userId: string;
  deviceId: string;
  content: Record<string, unknown>;
}

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

/**
 * Queues messages for their devices unless this sender device already used `txnId`. Returns the last position
 * taken, or null for a repeated transaction. Targets whose device does not exist are dropped.
 */
export async function insertToDeviceMessages(
  db: D1Database,
  sender: { userId: string; deviceId: string },
  txnId: string,
  type: string,
  targets: ToDeviceTarget[],
): Promise<number | null> {
  const unused = "NOT EXISTS (SELECT 1 FROM to_device_txns WHERE user_id = ?1 AND device_id = ?2 AND txn_id = ?3)";
  const count = targets.length;
  const payload = JSON.stringify(targets.map((t) => ({ u: t.userId, d: t.deviceId, c: t.content })));
  const [bumped] = await db.batch<{ position: number }>([
    db
      .prepare(`UPDATE stream_positions SET position = position + ?4 WHERE stream = 'shared' AND ${unused} RETURNING position`)
      .bind(sender.userId, sender.deviceId, txnId, count),
    // Message i of the request takes position (last - count + 1 + i).
    db
      .prepare(
        `INSERT INTO to_device_messages (user_id, device_id, stream_id, sender, type, content)
         SELECT json_extract(j.value, '$.u'), json_extract(j.value, '$.d'),
                (SELECT position FROM stream_positions WHERE stream = 'shared') - ?4 + 1 + j.key,
                ?1, ?5, json_extract(j.value, '$.c')
         FROM json_each(?6) j
         JOIN devices d ON d.user_id = json_extract(j.value, '$.u') AND d.device_id = json_extract(j.value, '$.d')
         WHERE ${unused}`,
      )
      .bind(sender.userId, sender.deviceId, txnId, count, type, payload),
    db
      .prepare("INSERT OR IGNORE INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES (?, ?, ?, ?)")
      .bind(sender.userId, sender.deviceId, txnId, Date.now()),
    // Clients retry within minutes; a day of transaction ids per device is plenty and keeps the table small.
    db
      .prepare("DELETE FROM to_device_txns WHERE user_id = ? AND device_id = ? AND created_ts < ?")
      .bind(sender.userId, sender.deviceId, Date.now() - TXN_RETENTION_MS),
  ]);
  return bumped?.results[0]?.position ?? null;
}

/**
 * The device's messages in (since, upTo], oldest first, at most `limit`. `lastPosition` is the position of the last
 * one returned, `limited` says whether more are waiting within the window.
 */
export async function getToDeviceMessages(
  db: D1Database,
  userId: string,
  deviceId: string,
  since: number,
  limit: number,
  upTo: number = Number.MAX_SAFE_INTEGER,
): Promise<{ events: ToDeviceEvent[]; lastPosition: number | null; limited: boolean }> {
  const rows = await db
    .prepare(
      `SELECT stream_id, sender, type, content FROM to_device_messages
       WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id LIMIT ?`,
    )
    .bind(userId, deviceId, since, upTo, limit + 1)
    .all<{ stream_id: number; sender: string; type: string; content: string }>();
  const limited = rows.results.length > limit;
  const delivered = rows.results.slice(0, limit);
  return {
    events: delivered.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as Record<string, unknown> })),
    lastPosition: delivered.at(-1)?.stream_id ?? null,
    limited,
  };
}

/** Deletes the device's messages at or below `upTo`: the client has them. */
export async function deleteToDeviceMessages(db: D1Database, userId: string, deviceId: string, upTo: number): Promise<void> {
  await db.prepare("DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_id <= ?").bind(userId, deviceId, upTo).run();
}
