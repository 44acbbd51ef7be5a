import { z } from "zod";
import { type NotifiedEvent, notificationBody } from "../push/gateway";
import { pushActionsFor, threadHints } from "../push/room-push";
import { stateKeyOf } from "../rooms/auth-rules";
import type { RoomEvent } from "../rooms/event-builder";
import type { RoomVersionId } from "../rooms/pdu";
import { type PushActionRow, deleteRejectedPushers, getHttpPushersOf, getTotalUnread, pushActionStatements } from "../storage/push";
import type { MemberPushSettings } from "./push-rules";

/**
 * Delivery of one event's notifications to the notified users' http pushers (Push Gateway API). Best effort, after
 * the commit and off the sender's path: a gateway that fails (no answer, 5xx, 429) is tried again with exponential
 * backoff, as the spec asks, within this process (not durable: a restart drops the retries); other errors are
 * logged; pushkeys the gateway rejects are removed.
 */

/** Notifications counted for the badge: the latest this many per user. */
const UNREAD_WINDOW = 1000;
const GATEWAY_TIMEOUT_MS = 10_000;
/** Waits before each retry of a failed gateway request: 1, 2, 4 and 8 s (then the notification is given up). */
export const GATEWAY_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
const GatewayResponse = z.object({ rejected: z.array(z.string()).optional() });

/** Whether a gateway's answer (or its absence) is worth another try. */
const retryable = (res: Response | null) => res === null || res.status >= 500 || res.status === 429;

export async function deliverPushes(
  env: Env,
  event: NotifiedEvent,
  rows: PushActionRow[],
  fetcher: typeof fetch = fetch,
  retryDelaysMs: readonly number[] = GATEWAY_RETRY_DELAYS_MS,
): Promise<void> {
  const notified = rows.filter((r) => r.notify);
  if (notified.length === 0) return;
  const pushers = await getHttpPushersOf(env.DB, notified.map((r) => r.userId));
  if (pushers.length === 0) return;
  const actionsOf = new Map(notified.map((r) => [r.userId, r.actions]));
  const unreadOf = new Map<string, Promise<number>>();
  await Promise.allSettled(
    pushers.map(async (pusher) => {
      const data = JSON.parse(pusher.data) as Record<string, unknown>;
      const url = data["url"];
      if (typeof url !== "string") return;
      let unread = unreadOf.get(pusher.user_id);
      if (!unread) unreadOf.set(pusher.user_id, (unread = getTotalUnread(env.DB, pusher.user_id, UNREAD_WINDOW)));
      const target = { app_id: pusher.app_id, pushkey: pusher.pushkey, pushkey_ts: pusher.created_ts, data };
      const body = notificationBody(pusher.user_id, event, target, actionsOf.get(pusher.user_id) ?? [], await unread);
      const post = async (): Promise<Response | null> => {
        try {
          const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) };
          return await fetcher(url, init);
        } catch (err) {
          console.warn(`push gateway ${url} failed: ${(err as Error).message}`);
          return null;
        }
      };
      let res = await post();
      for (const delay of retryDelaysMs) {
        if (!retryable(res)) break;
        await res?.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, delay));
        res = await post();
      }
      if (!res?.ok) {
        console.error(`push gateway ${url}: notification ${event.event_id} not delivered (${res === null ? "no answer" : res.status})`);
        await res?.body?.cancel();
        return;
      }
      const parsed = GatewayResponse.safeParse(await res.json().catch(() => ({})));
      if (parsed.success) await deleteRejectedPushers(env.DB, pusher.app_id, (parsed.data.rejected ?? []).filter((k) => k === pusher.pushkey));
    }),
  );
}

export interface PreparedPush {
  /** To commit in the event's own batch, after its INSERT. */
  statements: D1PreparedStatement[];
  /** After the commit, off the sender's path: sends the notifications to push gateways. */
  deliver: () => Promise<void>;
}

/**
 * Push for one new event, on the room state before it (`state`): the members' push actions as statements, and their
 * delivery. `settings` null (the rules could not be read) still records the sender's read position.
 */
export function preparePush(
  env: Env,
  room: { version: RoomVersionId; roomId: string; state: ReadonlyMap<string, RoomEvent> },
  event: RoomEvent,
  settings: ReadonlyMap<string, MemberPushSettings> | null,
  redacts: string | null,
): PreparedPush {
  const rows = settings === null ? [] : pushActionsFor(room.version, room.roomId, room.state, event, settings);
  const e = { eventId: event.event_id, sender: event.pdu.sender, ts: event.pdu.origin_server_ts, redacts, ...threadHints(event) };
  const notified = notifiedEvent(room.roomId, room.state, event);
  const deliver = () => deliverPushes(env, notified, rows).catch((err: unknown) => console.error("push delivery failed", err));
  return { statements: pushActionStatements(env.DB, e, rows), deliver };
}

function notifiedEvent(roomId: string, state: ReadonlyMap<string, RoomEvent>, event: RoomEvent): NotifiedEvent {
  const { pdu } = event;
  const name = state.get(stateKeyOf("m.room.name", ""))?.pdu.content["name"];
  const displayName = state.get(stateKeyOf("m.room.member", pdu.sender))?.pdu.content["displayname"];
  return {
    event_id: event.event_id,
    room_id: roomId,
    type: pdu.type,
    sender: pdu.sender,
    content: pdu.content,
    ...(pdu.state_key === undefined ? {} : { state_key: pdu.state_key }),
    sender_display_name: typeof displayName === "string" ? displayName : null,
    room_name: typeof name === "string" ? name : null,
  };
}
