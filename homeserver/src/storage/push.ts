import type { PushAction } from "../push/types";

/** Notification rows (event_push_actions), the positions of users' own events, and pushers (migrations/0011). */

export interface PushActionRow {
  userId: string;
  notify: boolean;
  highlight: boolean;
  actions: PushAction[];
}

/**
 * The statements that record an event's push actions, to run in the event's own commit batch (after its INSERT).
 * A redaction takes back its target's notifications.
 * The thread is `threadId` when the event is in a thread itself, otherwise the thread of the event it relates to
 * (`parentId`, one hop: a reaction or edit of a thread reply), otherwise `main`. The sender's position is recorded so
 * everything before their own event counts as read.
 */
export function pushActionStatements(
  db: D1Database,
  e: { eventId: string; sender: string; threadId: string | null; parentId: string | null; ts: number; redacts: string | null },
  rows: PushActionRow[],
): D1PreparedStatement[] {
  const thread = `COALESCE(?2, (SELECT CASE WHEN p.rel_type = 'm.thread' THEN p.relates_to END FROM events p WHERE p.event_id = ?3), 'main')`;
  const statements = [
    db
      .prepare(
        `INSERT INTO push_sent_positions (user_id, room_id, thread_id, stream_ordering)
         SELECT ?4, e.room_id, ${thread}, e.stream_ordering FROM events e WHERE e.event_id = ?1
         ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_ordering = excluded.stream_ordering`,
      )
      .bind(e.eventId, e.threadId, e.parentId, e.sender),
  ];
  if (e.redacts !== null) statements.push(db.prepare("DELETE FROM event_push_actions WHERE event_id = ?").bind(e.redacts));
  if (rows.length > 0) {
    const json = JSON.stringify(rows.map((r) => ({ u: r.userId, n: r.notify ? 1 : 0, h: r.highlight ? 1 : 0, a: JSON.stringify(r.actions) })));
    statements.push(
      db
        .prepare(
          `INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_ordering, event_id, thread_id, notify, highlight, actions, ts)
           SELECT json_extract(j.value, '$.u'), e.room_id, e.stream_ordering, e.event_id, ${thread},
                  json_extract(j.value, '$.n'), json_extract(j.value, '$.h'), json_extract(j.value, '$.a'), ?5
           FROM events e, json_each(?4) j WHERE e.event_id = ?1`,
        )
        .bind(e.eventId, e.threadId, e.parentId, json, e.ts),
    );
  }
  return statements;
}

export interface UnreadRow {
  room_id: string;
  thread_id: string;
  notification_count: number;
  highlight_count: number;
}

/**
 * Notifying events per room and thread after the user's read position there: the later of their unthreaded
 * receipt, their receipt in that thread (m.read or m.read.private, whichever is ahead) and their own latest event in
 * that thread. One probe of the (user, room) key range per room.
 */
export async function getUnreadRows(db: D1Database, userId: string, roomIds: string[]): Promise<UnreadRow[]> {
  if (roomIds.length === 0) return [];
  const rows = await db
    .prepare(
      `SELECT a.room_id, a.thread_id, SUM(a.notify) AS notification_count, SUM(a.highlight) AS highlight_count
       FROM event_push_actions a
       WHERE a.user_id = ?1 AND a.room_id IN (SELECT value FROM json_each(?2))
         AND a.stream_ordering > MAX(
           COALESCE((SELECT MAX(r.event_stream_ordering) FROM receipts r
                     WHERE r.room_id = a.room_id AND r.user_id = ?1 AND r.receipt_type IN ('m.read', 'm.read.private')
                       AND r.thread_id IN ('', a.thread_id)), 0),
           COALESCE((SELECT s.stream_ordering FROM push_sent_positions s
                     WHERE s.user_id = ?1 AND s.room_id = a.room_id AND s.thread_id = a.thread_id), 0))
       GROUP BY a.room_id, a.thread_id`,
    )
    .bind(userId, JSON.stringify(roomIds))
    .all<UnreadRow>();
  return rows.results;
}

export interface NotificationRow {
  room_id: string;
  event_id: string;
  stream_ordering: number;
  thread_id: string;
  highlight: number;
  actions: string;
  ts: number;
  read: number;
}

/** The user's notifications, newest first, before `before` (a stream ordering), with whether each is read. */
export async function getNotificationRows(db: D1Database, userId: string, before: number, limit: number, onlyHighlight: boolean): Promise<NotificationRow[]> {
  const rows = await db
    .prepare(
      `SELECT a.room_id, a.event_id, a.stream_ordering, a.thread_id, a.highlight, a.actions, a.ts,
              a.stream_ordering <= MAX(
                COALESCE((SELECT MAX(r.event_stream_ordering) FROM receipts r
                          WHERE r.room_id = a.room_id AND r.user_id = ?1 AND r.receipt_type IN ('m.read', 'm.read.private')
                            AND r.thread_id IN ('', a.thread_id)), 0),
                COALESCE((SELECT s.stream_ordering FROM push_sent_positions s
                          WHERE s.user_id = ?1 AND s.room_id = a.room_id AND s.thread_id = a.thread_id), 0)) AS read
       FROM event_push_actions a
       WHERE a.user_id = ?1 AND a.stream_ordering < ?2 AND a.notify = 1 AND (?3 = 0 OR a.highlight = 1)
       ORDER BY a.stream_ordering DESC LIMIT ?4`,
    )
    .bind(userId, before, onlyHighlight ? 1 : 0, limit)
    .all<NotificationRow>();
  return rows.results;
}

export interface PusherRow {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data: string;
  device_id: string | null;
  created_ts: number;
}

export async function getPushers(db: D1Database, userId: string): Promise<PusherRow[]> {
  const rows = await db.prepare("SELECT * FROM pushers WHERE user_id = ? ORDER BY created_ts").bind(userId).all<PusherRow>();
  return rows.results;
}

/**
 * Adds or replaces the user's pusher for (app_id, pushkey). Without `append`, the same app_id and pushkey is taken
 * away from every other user (a device gets one user's notifications), in the same batch.
 */
export async function putPusher(db: D1Database, row: PusherRow, append: boolean): Promise<void> {
  const statements = [
    db
      .prepare(
        `INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, device_id, created_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = excluded.kind, app_display_name = excluded.app_display_name,
           device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, lang = excluded.lang,
           data = excluded.data, device_id = excluded.device_id`,
      )
      .bind(
        row.user_id,
        row.app_id,
        row.pushkey,
        row.kind,
        row.app_display_name,
        row.device_display_name,
        row.profile_tag,
        row.lang,
        row.data,
        row.device_id,
        row.created_ts,
      ),
  ];
  if (!append) {
    statements.push(db.prepare("DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?").bind(row.app_id, row.pushkey, row.user_id));
  }
  await db.batch(statements);
}

export async function deletePusher(db: D1Database, userId: string, appId: string, pushkey: string): Promise<void> {
  await db.prepare("DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?").bind(userId, appId, pushkey).run();
}

/** The http pushers of several users, for delivering one event's notifications. */
export async function getHttpPushersOf(db: D1Database, userIds: string[]): Promise<PusherRow[]> {
  if (userIds.length === 0) return [];
  const rows = await db
    .prepare("SELECT * FROM pushers WHERE kind = 'http' AND user_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(userIds))
    .all<PusherRow>();
  return rows.results;
}

/** A push gateway rejected these pushkeys: the app was uninstalled or the token expired. */
export async function deleteRejectedPushers(db: D1Database, appId: string, pushkeys: string[]): Promise<void> {
  if (pushkeys.length === 0) return;
  await db.prepare("DELETE FROM pushers WHERE app_id = ? AND pushkey IN (SELECT value FROM json_each(?))").bind(appId, JSON.stringify(pushkeys)).run();
}

/**
 * Unread notifying events across all the user's joined rooms (the badge a push gateway shows), among their latest
 * `window` notifications only, so the cost is bounded however much history they have.
 */
export async function getTotalUnread(db: D1Database, userId: string, window: number): Promise<number> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS n FROM (SELECT * FROM event_push_actions WHERE user_id = ?1 ORDER BY stream_ordering DESC LIMIT ?2) a
       WHERE a.notify = 1
         AND a.stream_ordering > MAX(
           COALESCE((SELECT MAX(r.event_stream_ordering) FROM receipts r
                     WHERE r.room_id = a.room_id AND r.user_id = ?1 AND r.receipt_type IN ('m.read', 'm.read.private')
                       AND r.thread_id IN ('', a.thread_id)), 0),
           COALESCE((SELECT s.stream_ordering FROM push_sent_positions s
                     WHERE s.user_id = ?1 AND s.room_id = a.room_id AND s.thread_id = a.thread_id), 0))
         AND a.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ?1 AND membership = 'join')`,
    )
    .bind(userId, window)
    .first<number>("n");
  return row ?? 0;
}
