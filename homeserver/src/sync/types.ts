import type { E2eeSyncSection } from "../e2ee/sync-section";
import type { ClientEvent } from "../rooms/client-event";
import type { StrippedStateEvent } from "../rooms/stripped-state";
import type { PresenceEvent } from "../services/presence";

/** Shapes of the /sync response (Client-Server API, GET /sync). */

export interface BasicEvent {
  type: string;
  content: Record<string, unknown>;
}

export interface Timeline {
  events: ClientEvent[];
  limited: boolean;
  prev_batch: string;
}

export interface RoomSummary {
  "m.heroes": string[];
  "m.joined_member_count": number;
  "m.invited_member_count": number;
}

/** Exactly one of `state` (the state before the timeline) and `state_after` (after it; use_state_after). */
export type RoomState = { state: { events: ClientEvent[] } } | { state_after: { events: ClientEvent[] } };

export type JoinedRoom = RoomState & {
  timeline: Timeline;
  summary?: RoomSummary;
  account_data: { events: BasicEvent[] };
  ephemeral: { events: BasicEvent[] };
  /** Counted from push actions recorded at commit (services/unread-counts.ts); the main timeline only when
   * the filter asks for `unread_thread_notifications`, which then has the threads' counts. */
  unread_notifications: { notification_count?: number; highlight_count?: number };
  unread_thread_notifications?: Record<string, { notification_count: number; highlight_count: number }>;
};

export type LeftRoom = RoomState & {
  timeline: Timeline;
  account_data: { events: BasicEvent[] };
};

/** The end-to-end encryption fields (to_device, device_lists, key counts) come from e2ee/sync-section.ts. */
export interface SyncResponse extends Partial<E2eeSyncSection> {
  next_batch: string;
  rooms: {
    join: Record<string, JoinedRoom>;
    invite: Record<string, { invite_state: { events: StrippedStateEvent[] } }>;
    knock: Record<string, { knock_state: { events: StrippedStateEvent[] } }>;
    leave: Record<string, LeftRoom>;
  };
  account_data: { events: BasicEvent[] };
  presence?: { events: PresenceEvent[] };
}
