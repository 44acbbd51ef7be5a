import type { Requester } from "../http/types";
import type { ClientEvent } from "../rooms/client-event";
import { clientEvents } from "../services/client-events";
import { type RoomUnreadCounts, unreadCounts } from "../services/unread-counts";
import type { EventRow } from "../storage/events";
import { type MembershipRow, getMemberSummaries } from "../storage/sync";
import { allowsRoomIn, allowsType } from "./filter";
import { type RoomWindow, roomTimelinesAndState } from "./room-timeline";
import type { SyncRequest } from "./sync";
import type { SyncPosition } from "./token";
import type { BasicEvent, JoinedRoom, LeftRoom, RoomState, RoomSummary } from "./types";

/** The spec suggests 5 heroes. */
const HERO_COUNT = 5;

/** What one sync knows before it builds room sections. */
export interface RoomContext {
  db: D1Database;
  requester: Requester;
  request: SyncRequest;
  upTo: SyncPosition;
  ignored: ReadonlySet<string>;
  changed: {
    /** Joined rooms with events after `since`. */
    events: ReadonlySet<string>;
    typing: Record<string, string[]>;
    receipts: Record<string, Record<string, unknown>>;
    accountData: Record<string, BasicEvent[]>;
  };
}

/** A room to report, before its events are read: all rooms are read and serialized together, in a few round trips. */
export interface PlannedRoom {
  membership: "join" | "leave";
  window: RoomWindow;
  ephemeral: BasicEvent[];
  accountData: BasicEvent[];
}

/** The membership the member event replaced (recorded in its unsigned data at commit). */
function previousMembership(memberEvent: EventRow | undefined): unknown {
  if (!memberEvent?.unsigned) return undefined;
  const prev = (JSON.parse(memberEvent.unsigned) as { prev_content?: Record<string, unknown> }).prev_content;
  return prev?.["membership"];
}

/** A joined room to report, or null when an incremental sync has nothing to say about it. */
export function planJoinedRoom(ctx: RoomContext, m: MembershipRow, memberEvent: EventRow | undefined): PlannedRoom | null {
  const { request, changed } = ctx;
  const roomId = m.room_id;
  const since = request.since?.events ?? null;
  const hasChanges =
    changed.events.has(roomId) || roomId in changed.typing || roomId in changed.receipts || roomId in changed.accountData || memberEvent !== undefined;
  if (since !== null && !hasChanges && !request.fullState) return null;
  // A join the client has not seen (not a profile change of a joined member): it has none of the room yet.
  const newlyJoined = since !== null && memberEvent !== undefined && previousMembership(memberEvent) !== "join";
  return {
    membership: "join",
    window: { roomId, membership: m.membership, upTo: ctx.upTo.events, since: newlyJoined ? null : since, fullState: request.fullState },
    ephemeral: ephemeralEvents(ctx, roomId),
    accountData: roomAccountData(ctx, roomId),
  };
}

/** A room the user left, was kicked or banned from: its timeline up to that event. */
export function planLeftRoom(ctx: RoomContext, m: MembershipRow, memberEvent: EventRow): PlannedRoom {
  const wasJoined = previousMembership(memberEvent) === "join";
  // Someone who was only invited or knocking sees no more than their own leave (or rejection, or ban).
  const since = wasJoined ? (ctx.request.since?.events ?? null) : m.stream_ordering - 1;
  return {
    membership: "leave",
    window: { roomId: m.room_id, membership: m.membership, upTo: m.stream_ordering, since, fullState: false, ownMembershipEventId: m.event_id },
    ephemeral: [],
    accountData: roomAccountData(ctx, m.room_id),
  };
}

/**
 * Reads every planned room's timeline and state, drops joined rooms an incremental sync has nothing new for,
 * and serializes all events in one pass with all summaries read in one batch.
 */
export async function buildRooms(
  ctx: RoomContext,
  planned: PlannedRoom[],
): Promise<{ join: Record<string, JoinedRoom>; leave: Record<string, LeftRoom> }> {
  const { request } = ctx;
  const read = await roomTimelinesAndState(
    ctx.db,
    ctx.requester,
    planned.map((p) => p.window),
    { filter: request.filter, ignored: ctx.ignored, stateAfter: request.useStateAfter },
  );
  const rooms = planned.flatMap((p) => {
    const rows = read.get(p.window.roomId)!;
    const isEmpty = rows.timeline.length === 0 && rows.state.length === 0 && p.ephemeral.length === 0 && p.accountData.length === 0;
    if (p.membership === "join" && request.since !== null && isEmpty && !request.fullState) return [];
    // The summary may be left out when unchanged: sent when the client is new to the room or members changed.
    const membersChanged = [...rows.timeline, ...rows.state].some((r) => r.type === "m.room.member");
    const wantsSummary = p.membership === "join" && (p.window.since === null || request.fullState || membersChanged);
    return [{ ...p, rows, wantsSummary }];
  });

  const unique = new Map<string, EventRow>();
  for (const room of rooms) for (const row of [...room.rows.timeline, ...room.rows.state]) unique.set(row.event_id, row);
  const summaryRooms = rooms.filter((r) => r.wantsSummary).map((r) => r.window.roomId);
  const joinedRooms = rooms.filter((r) => r.membership === "join").map((r) => r.window.roomId);
  const [events, summaries, unread] = await Promise.all([
    clientEvents(ctx.db, ctx.requester, [...unique.values()]),
    getMemberSummaries(ctx.db, summaryRooms, ctx.requester.userId, HERO_COUNT),
    unreadCounts(ctx.db, ctx.requester.userId, joinedRooms),
  ]);
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const serialize = (list: EventRow[]) => list.map((r) => byId.get(r.event_id)!);

  const join: Record<string, JoinedRoom> = {};
  const leave: Record<string, LeftRoom> = {};
  for (const room of rooms) {
    const roomId = room.window.roomId;
    const timeline = { events: serialize(room.rows.timeline), limited: room.rows.limited, prev_batch: room.rows.prevBatch };
    const state = roomState(request, serialize(room.rows.state));
    const accountData = { events: room.accountData };
    if (room.membership === "leave") {
      leave[roomId] = { timeline, ...state, account_data: accountData };
      continue;
    }
    const section: JoinedRoom = { timeline, ...state, account_data: accountData, ephemeral: { events: room.ephemeral }, ...unreadSections(request, unread[roomId]) };
    const summary = summaries.get(roomId);
    if (summary) section.summary = summaryOf(summary);
    join[roomId] = section;
  }
  return { join, leave };
}

/** `unread_notifications`, and per thread `unread_thread_notifications` when the timeline filter asks for them. */
function unreadSections(request: SyncRequest, counts: RoomUnreadCounts | undefined): Pick<JoinedRoom, "unread_notifications" | "unread_thread_notifications"> {
  if (!counts) return { unread_notifications: { notification_count: 0, highlight_count: 0 } };
  const { notification_count, highlight_count, main, threads } = counts;
  if (request.filter.room?.timeline?.unread_thread_notifications !== true) return { unread_notifications: { notification_count, highlight_count } };
  return Object.keys(threads).length > 0 ? { unread_notifications: main, unread_thread_notifications: threads } : { unread_notifications: main };
}

function roomState(request: SyncRequest, events: ClientEvent[]): RoomState {
  return request.useStateAfter ? { state_after: { events } } : { state: { events } };
}

function ephemeralEvents(ctx: RoomContext, roomId: string): BasicEvent[] {
  const events: BasicEvent[] = [];
  const typing = ctx.changed.typing[roomId];
  if (typing) events.push({ type: "m.typing", content: { user_ids: typing.filter((u) => !ctx.ignored.has(u)) } });
  const receipts = ctx.changed.receipts[roomId];
  if (receipts) events.push({ type: "m.receipt", content: receipts });
  const filter = ctx.request.filter.room?.ephemeral;
  return allowsRoomIn(filter, roomId) ? events.filter((e) => allowsType(filter, e.type)) : [];
}

function roomAccountData(ctx: RoomContext, roomId: string): BasicEvent[] {
  const filter = ctx.request.filter.room?.account_data;
  return allowsRoomIn(filter, roomId) ? (ctx.changed.accountData[roomId] ?? []).filter((e) => allowsType(filter, e.type)) : [];
}

/** m.heroes: joined or invited members other than the user; only when there are none, those who left. */
function summaryOf({ joined, invited, heroes }: { joined: number; invited: number; heroes: { user_id: string; membership: string }[] }): RoomSummary {
  const current = heroes.filter((h) => h.membership === "join" || h.membership === "invite");
  return {
    "m.heroes": (current.length > 0 ? current : heroes).map((h) => h.user_id),
    "m.joined_member_count": joined,
    "m.invited_member_count": invited,
  };
}
