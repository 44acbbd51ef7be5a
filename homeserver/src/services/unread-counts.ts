import { getUnreadRows } from "../storage/push";

export interface NotificationCounts {
  notification_count: number;
  highlight_count: number;
}

/** A room's unread counts: all threads together (the top level), the main timeline alone, and each thread. */
export interface RoomUnreadCounts extends NotificationCounts {
  main: NotificationCounts;
  /** Keyed by thread root event id; threads with nothing unread are left out. */
  threads: Record<string, NotificationCounts>;
}

const zero = (): NotificationCounts => ({ notification_count: 0, highlight_count: 0 });

/**
 * Unread notification and highlight counts of `roomIds` for `userId` (every room gets an entry): the notifying events
 * (push actions recorded at commit) after the user's read position in each thread. Used by /sync's
 * `unread_notifications` / `unread_thread_notifications` and by sliding sync.
 */
export async function unreadCounts(db: D1Database, userId: string, roomIds: string[]): Promise<Record<string, RoomUnreadCounts>> {
  const counts: Record<string, RoomUnreadCounts> = {};
  for (const roomId of roomIds) counts[roomId] = { ...zero(), main: zero(), threads: {} };
  for (const row of await getUnreadRows(db, userId, roomIds)) {
    const room = counts[row.room_id];
    if (!room) continue;
    const n = { notification_count: row.notification_count, highlight_count: row.highlight_count };
    room.notification_count += n.notification_count;
    room.highlight_count += n.highlight_count;
    if (row.thread_id === "main") room.main = n;
    else room.threads[row.thread_id] = n;
  }
  return counts;
}
