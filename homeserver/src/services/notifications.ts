import { invalidParam } from "../http/errors";
import type { Requester } from "../http/types";
import type { ClientEvent } from "../rooms/client-event";
import { getEventRows } from "../storage/events";
import { getNotificationRows } from "../storage/push";
import { clientEvents } from "./client-events";

const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 20;

export interface Notification {
  actions: unknown[];
  event: ClientEvent;
  read: boolean;
  room_id: string;
  ts: number;
}

/**
 * GET /notifications: the events the user was notified of, newest first. `from` is the opaque next_token of the
 * previous page (a stream ordering); `only=highlight` keeps highlights.
 */
export async function listNotifications(
  db: D1Database,
  requester: Requester,
  query: { from?: string | undefined; limit?: number | undefined; only?: string | undefined },
): Promise<{ notifications: Notification[]; next_token?: string }> {
  if (query.from !== undefined && !/^\d{1,15}$/.test(query.from)) throw invalidParam("Invalid 'from' token");
  const before = query.from === undefined ? Number.MAX_SAFE_INTEGER : Number(query.from);
  const limit = Math.min(Math.max(query.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);
  const rows = await getNotificationRows(db, requester.userId, before, limit, query.only === "highlight");
  const events = await clientEvents(db, requester, await getEventRows(db, rows.map((r) => r.event_id)));
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const notifications = rows.flatMap((r) => {
    const event = byId.get(r.event_id);
    return event ? [{ actions: JSON.parse(r.actions) as unknown[], event, read: r.read === 1, room_id: r.room_id, ts: r.ts }] : [];
  });
  const last = rows.at(-1);
  return rows.length === limit && last ? { notifications, next_token: String(last.stream_ordering) } : { notifications };
}
