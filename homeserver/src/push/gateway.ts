import type { PushAction } from "./types";

/**
 * The body of a push gateway request (Push Gateway API, `POST /_matrix/push/v1/notify`): pure, no I/O.
 * `data.format: "event_id_only"` sends no event details (the app fetches them itself).
 */

export interface PusherTarget {
  app_id: string;
  pushkey: string;
  pushkey_ts: number;
  data: Record<string, unknown>;
}

export interface NotifiedEvent {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
  state_key?: string;
  sender_display_name: string | null;
  room_name: string | null;
}

/** The tweaks of the matching rule's actions, keyed by name (`highlight` with no value is true). */
export function tweaksOf(actions: PushAction[]): Record<string, unknown> {
  const tweaks: Record<string, unknown> = {};
  for (const a of actions) if (typeof a === "object") tweaks[a.set_tweak] = a.value === undefined && a.set_tweak === "highlight" ? true : a.value;
  return tweaks;
}

/** The pusher's data as sent on: everything but `url` (spec: servers MUST forward the rest). */
function forwardedData(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => key !== "url"));
}

/** The request for one pusher of `userId`; `unread` is their badge count. */
export function notificationBody(userId: string, event: NotifiedEvent, device: PusherTarget, actions: PushAction[], unread: number): Record<string, unknown> {
  const tweaks = tweaksOf(actions);
  const devices = [{ app_id: device.app_id, pushkey: device.pushkey, pushkey_ts: Math.floor(device.pushkey_ts / 1000), data: forwardedData(device.data), tweaks }];
  // High priority wakes the device: for messages that make a sound or highlight, as Synapse does.
  const prio = tweaks["sound"] !== undefined || tweaks["highlight"] === true ? "high" : "low";
  const base = { event_id: event.event_id, room_id: event.room_id, counts: { unread }, devices, prio };
  if (device.data["format"] === "event_id_only") return { notification: base };
  return {
    notification: {
      ...base,
      type: event.type,
      sender: event.sender,
      ...(event.sender_display_name ? { sender_display_name: event.sender_display_name } : {}),
      ...(event.room_name ? { room_name: event.room_name } : {}),
      ...(event.type === "m.room.member" && event.state_key === userId ? { user_is_target: true } : {}),
      content: event.content,
    },
  };
}
