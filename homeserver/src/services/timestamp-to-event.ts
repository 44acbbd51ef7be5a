import { notFound } from "../http/errors";
import { eventsFromTimestamp } from "../storage/event-timestamps";
import { assertCanRead } from "./messages";
import { filterVisible } from "./visibility";

const BATCH = 50;
/** How far to look past events the user may not see before giving up (a bounded amount of work per request). */
const MAX_BATCHES = 10;

/**
 * GET /rooms/{roomId}/timestamp_to_event: the event the user may see that is nearest to `ts` in direction `dir`,
 * an event at exactly `ts` included.
 */
export async function eventNearTimestamp(
  db: D1Database,
  userId: string,
  roomId: string,
  ts: number,
  dir: "f" | "b",
): Promise<{ event_id: string; origin_server_ts: number }> {
  await assertCanRead(db, roomId, userId);
  let cursor = { ts, streamOrdering: dir === "f" ? 0 : Number.MAX_SAFE_INTEGER };
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const rows = await eventsFromTimestamp(db, roomId, cursor, dir, BATCH);
    // filterVisible keeps the input order, so the first one left is the nearest.
    const [nearest] = await filterVisible(db, roomId, userId, rows);
    if (nearest) return { event_id: nearest.event_id, origin_server_ts: nearest.origin_server_ts };
    const last = rows[rows.length - 1];
    if (!last || rows.length < BATCH) break;
    cursor = { ts: last.origin_server_ts, streamOrdering: last.stream_ordering };
  }
  throw notFound(`Unable to find event from ${ts} in ${dir === "f" ? "forward" : "backward"} direction`);
}
