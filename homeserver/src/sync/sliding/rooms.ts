import type { Requester } from "../../http/types";
import type { ClientEvent } from "../../rooms/client-event";
import type { StrippedStateEvent } from "../../rooms/stripped-state";
import { clientEvents } from "../../services/client-events";
import { type RoomUnreadCounts, unreadCounts } from "../../services/unread-counts";
import { positionToken } from "../../services/pagination";
import { type EventRow, getEventRows, stateRowsAtStatement } from "../../storage/events";
import {
  type ListRoomRow,
  type SentRoomRow,
  bumpStampStatement,
  changedStateStatement,
  currentStateStatement,
} from "../../storage/sliding-sync";
import { getMemberSummaries, runBatched } from "../../storage/sync";
import { strippedStateOf } from "../invites";
import { type RoomWindow, readTimelines } from "../room-timeline";
import type { SyncPosition } from "../token";
import type { CombinedState } from "./required-state";

/** The room results of MSC4186 (RoomResult), plus the fields Element X still reads from Synapse's experimental form. */
export interface SlidingRoom {
  membership: string;
  initial?: true;
  lists?: string[];
  bump_stamp: number;
  is_dm: boolean;
  name?: string | null;
  avatar?: string | null;
  heroes?: { user_id: string; displayname?: string; avatar_url?: string }[];
  required_state?: ClientEvent[];
  timeline?: ClientEvent[];
  limited?: boolean;
  prev_batch?: string;
  num_live?: number;
  expanded_timeline?: true;
  unstable_expanded_timeline?: true;
  joined_count?: number;
  invited_count?: number;
  /** From the push actions recorded at commit (services/unread-counts.ts), all threads together. */
  notification_count?: number;
  highlight_count?: number;
  stripped_state?: StrippedStateEvent[];
  invite_state?: StrippedStateEvent[];
}

/** A room that matched a list or subscription, with the combined config it is to be sent with. */
export interface RoomPlan {
  row: ListRoomRow;
  lists: string[];
  state: CombinedState;
  timelineLimit: number;
  sent: SentRoomRow | undefined;
  isDm: boolean;
  /** The user's own read receipt moved since the last response: the room's unread counts are sent again. */
  receiptMoved: boolean;
  /** A room subscription matched it (the user has the room open): it goes first when a response is full. */
  subscribed: boolean;
}

const HERO_COUNT = 5;
/**
 * Rooms built per response. A range taking in more (a client growing its list to 1,000 rooms at once) gets the rest
 * in the responses that follow, at once, since rooms never sent are news: each response stays within a Worker's budget.
 */
export const MAX_ROOMS_PER_RESPONSE = 100;
/** A bound on one room's timeline per response, whatever the client asks: older events come from /messages. */
const MAX_TIMELINE_LIMIT = 100;

type Mode = "full" | "delta";

interface Decided {
  plan: RoomPlan;
  mode: Mode;
  expandedTimeline: boolean;
  digest: string;
}

/**
 * What a room was sent as, stored with it: the membership (an invite turning into a join resends all), whether it is
 * a DM (MSC4186 wants a change of that sent), and the required_state config (a new config resends the state).
 */
const digestOf = (plan: RoomPlan) => `${plan.row.membership}|${plan.isDm ? "dm" : ""}|${plan.state.digest()}`;

/** Which planned rooms to send, and how: all of it (new to the connection, or its config grew) or what changed. */
function decide(plan: RoomPlan): Decided | null {
  const limit = Math.min(plan.timelineLimit, MAX_TIMELINE_LIMIT);
  const digest = digestOf(plan);
  const { sent, row } = plan;
  if (!sent) return { plan, mode: "full", expandedTimeline: false, digest };
  if (sent.required_state !== digest) return { plan, mode: "full", expandedTimeline: false, digest };
  if (limit > sent.timeline_limit && row.membership === "join") return { plan, mode: "full", expandedTimeline: true, digest };
  if (row.activity > sent.sent_events || (plan.receiptMoved && row.membership === "join")) return { plan, mode: "delta", expandedTimeline: false, digest };
  return null;
}

export interface BuiltRooms {
  rooms: Record<string, SlidingRoom>;
  sent: SentRoomRow[];
  /** Rooms sent in full: the extensions give them their receipts and typing from scratch. */
  fullRooms: string[];
}

/**
 * Builds the rooms to send, in a fixed number of batched rounds whatever their number: (1) timelines, member
 * summaries, bump stamps and invite events; (2) state; (3) serialization. Rooms with nothing new cost nothing.
 */
export async function buildRooms(
  db: D1Database,
  requester: Requester,
  plans: RoomPlan[],
  ctx: { upTo: SyncPosition; pos: SyncPosition | null; ignored: ReadonlySet<string> },
): Promise<BuiltRooms> {
  const decided = plans
    .flatMap((p) => decide(p) ?? [])
    .sort((a, b) => Number(b.plan.subscribed) - Number(a.plan.subscribed) || b.plan.row.activity - a.plan.row.activity)
    .slice(0, MAX_ROOMS_PER_RESPONSE);
  const stripped = decided.filter((d) => d.plan.row.membership === "invite" || d.plan.row.membership === "knock");
  const withHistory = decided.filter((d) => !stripped.includes(d));
  const joined = withHistory.filter((d) => d.plan.row.membership === "join");
  // Rooms the user left or was banned from without ever joining (a rejected or withdrawn invite): of their state only
  // the user's own member event is sent, which is how clients learn they are no longer invited.
  const neverJoined = withHistory.filter((d) => d.plan.row.membership !== "join" && d.plan.row.prev_membership !== "join");

  // Round 1.
  const [timelines, summaries, bumps, memberEvents, unread] = await Promise.all([
    readAllTimelines(db, requester.userId, withHistory, ctx),
    getMemberSummaries(db, joined.map((d) => d.plan.row.room_id), requester.userId, HERO_COUNT),
    runBatched(db, joined.map((d) => bumpStampStatement(db, d.plan.row.room_id, ctx.upTo.events))),
    getEventRows(db, [...stripped, ...neverJoined].map((d) => d.plan.row.event_id)),
    unreadCounts(db, requester.userId, joined.map((d) => d.plan.row.room_id)),
  ]);
  const bumpOf = new Map(joined.map((d, i) => [d.plan.row.room_id, (bumps[i]!.results[0] as { p: number } | undefined)?.p]));
  const memberEventById = new Map(memberEvents.map((e) => [e.event_id, e]));

  // Round 2: state, with the member events of lazy-loaded senders and of heroes.
  const extras = withHistory.map((d) => {
    const timeline = timelines.get(d.plan.row.room_id)!;
    const lazy = d.plan.state.lazy ? lazyMembers(timeline.rows) : new Set<string>();
    const heroes = (summaries.get(d.plan.row.room_id)?.heroes ?? []).map((h) => h.user_id);
    return { lazy, heroes };
  });
  const perRoom = withHistory.map((d, i) => stateStatements(db, d, extras[i]!, ctx.upTo));
  const stateResults = await runBatched(db, perRoom.flat());
  let next = 0;
  const states = withHistory.map((d, i) => {
    const rows = stateResults.slice(next, next + perRoom[i]!.length).flatMap((r) => r.results as EventRow[]);
    next += perRoom[i]!.length;
    const own = neverJoined.includes(d) ? memberEventById.get(d.plan.row.event_id) : undefined;
    if (own) rows.push(own);
    return selectState(d, timelines.get(d.plan.row.room_id)!, rows, extras[i]!);
  });

  // Round 3: serialize every event sent, once.
  const unique = new Map<string, EventRow>();
  withHistory.forEach((d, i) => {
    for (const row of timelines.get(d.plan.row.room_id)!.rows) unique.set(row.event_id, row);
    for (const row of states[i]!.required) unique.set(row.event_id, row);
  });
  const serialized = await clientEvents(db, requester, [...unique.values()]);
  const byId = new Map(serialized.map((e) => [e.event_id, e]));

  const rooms: Record<string, SlidingRoom> = {};
  const sent: SentRoomRow[] = [];
  withHistory.forEach((d, i) => {
    const roomId = d.plan.row.room_id;
    const timeline = timelines.get(roomId)!;
    const room = historyRoom(d, timeline, states[i]!, {
      byId,
      summary: summaries.get(roomId),
      bump: bumpOf.get(roomId) ?? d.plan.row.member_ordering,
      pos: ctx.pos,
      windowUpTo: d.plan.row.membership === "join" ? ctx.upTo.events : d.plan.row.member_ordering,
      unread: unread[roomId],
    });
    // A delta that turns out empty (events the user may not see) is not sent; the connection still moves past them.
    sent.push(sentRow(d, ctx.upTo.events));
    if (d.mode === "delta" && room.timeline!.length === 0 && room.required_state!.length === 0 && !d.plan.receiptMoved) return;
    rooms[roomId] = room;
  });
  for (const d of stripped) {
    const event = memberEventById.get(d.plan.row.event_id);
    if (!event) continue;
    const state = strippedStateOf(event, d.plan.row.membership === "invite" ? "invite_room_state" : "knock_room_state");
    rooms[d.plan.row.room_id] = {
      membership: d.plan.row.membership,
      initial: true,
      ...listsOf(d.plan),
      bump_stamp: d.plan.row.member_ordering,
      is_dm: d.plan.isDm,
      stripped_state: state,
      invite_state: state,
    };
    sent.push(sentRow(d, ctx.upTo.events));
  }
  return { rooms, sent, fullRooms: decided.filter((d) => d.mode === "full" && d.plan.row.room_id in rooms).map((d) => d.plan.row.room_id) };
}

const sentRow = (d: Decided, upTo: number): SentRoomRow => ({
  room_id: d.plan.row.room_id,
  sent_events: upTo,
  timeline_limit: Math.min(d.plan.timelineLimit, MAX_TIMELINE_LIMIT),
  required_state: d.digest,
});

const listsOf = (plan: RoomPlan) => (plan.lists.length > 0 ? { lists: plan.lists } : {});

/** The window of a room's timeline: up to the user's own leave for a room they are no longer in. */
function windowOf(d: Decided, upTo: SyncPosition): RoomWindow {
  const { row, sent } = d.plan;
  const since = d.mode === "full" ? null : sent!.sent_events;
  if (row.membership === "join") return { roomId: row.room_id, membership: "join", upTo: upTo.events, since, fullState: false };
  // Someone who was never joined sees no more than their own leave or ban.
  const ownOnly = row.prev_membership !== "join" ? row.member_ordering - 1 : since;
  return {
    roomId: row.room_id,
    membership: row.membership,
    upTo: row.member_ordering,
    since: since === null ? ownOnly : Math.max(since, ownOnly ?? 0),
    fullState: false,
    ownMembershipEventId: row.event_id,
  };
}

/** Timelines grouped by limit: the shared reader takes one limit per call. */
async function readAllTimelines(
  db: D1Database,
  userId: string,
  decided: Decided[],
  ctx: { upTo: SyncPosition; ignored: ReadonlySet<string> },
): Promise<Map<string, { rows: EventRow[]; limited: boolean }>> {
  const byLimit = new Map<number, Decided[]>();
  for (const d of decided) {
    const limit = Math.min(d.plan.timelineLimit, MAX_TIMELINE_LIMIT);
    byLimit.set(limit, [...(byLimit.get(limit) ?? []), d]);
  }
  const result = new Map<string, { rows: EventRow[]; limited: boolean }>();
  await Promise.all(
    [...byLimit].map(async ([limit, group]) => {
      const windows = group.map((d) => windowOf(d, ctx.upTo));
      const read = await readTimelines(db, userId, windows, { filter: { room: { timeline: { limit } } }, ignored: ctx.ignored, stateAfter: false });
      windows.forEach((w, i) => result.set(w.roomId, read[i]!));
    }),
  );
  return result;
}

/** Lazy-loaded members: senders of the timeline's events and targets of its member events. */
function lazyMembers(timeline: EventRow[]): Set<string> {
  const users = new Set<string>();
  for (const row of timeline) {
    users.add(row.sender);
    if (row.type === "m.room.member" && row.state_key) users.add(row.state_key);
  }
  return users;
}

const NAME = { type: "m.room.name", state_key: "" };
const AVATAR = { type: "m.room.avatar", state_key: "" };
const members = (users: Iterable<string>) => [...users].map((u) => ({ type: "m.room.member", state_key: u }));

function stateStatements(db: D1Database, d: Decided, extra: { lazy: Set<string>; heroes: string[] }, upTo: SyncPosition): D1PreparedStatement[] {
  const { row } = d.plan;
  // A room the user is no longer in: its state as they last saw it, whatever changed since; none at all if they were
  // never joined (a rejected invite, a ban before joining), as they never saw any; their own member event is read in
  // round 1, with the invite events.
  if (row.membership !== "join") return row.prev_membership === "join" ? [stateRowsAtStatement(db, row.room_id, row.member_ordering)] : [];
  const wanted = [NAME, AVATAR, ...members(extra.lazy), ...members(extra.heroes)];
  if (d.mode === "full") return [currentStateStatement(db, row.room_id, d.plan.state.selector(wanted))];
  // A delta: what changed since the room was last sent, and the current entries the lazy members and heroes need.
  return [changedStateStatement(db, row.room_id, d.plan.sent!.sent_events, upTo.events), currentStateStatement(db, row.room_id, { all: false, types: new Map([["m.room.name", new Set([""])], ["m.room.member", new Set([...extra.lazy, ...extra.heroes])]]) })];
}

interface RoomState {
  /** The latest entry of each (type, state_key) read: what name, avatar and heroes come from. */
  current: Map<string, EventRow>;
  /** The entries to send in `required_state`, oldest first. */
  required: EventRow[];
}

const stateKey = (type: string, key: string) => `${type}\u0000${key}`;

/** Picks `required_state` from the rows read for a room (MSC4186 "Lazy loaded memberships" for the members). */
function selectState(d: Decided, timeline: { rows: EventRow[]; limited: boolean }, rows: EventRow[], extra: { lazy: Set<string> }): RoomState {
  const { plan, mode } = d;
  const current = new Map<string, EventRow>();
  for (const r of rows) {
    const existing = current.get(stateKey(r.type, r.state_key!));
    if (!existing || existing.stream_ordering < r.stream_ordering) current.set(stateKey(r.type, r.state_key!), r);
  }
  const since = mode === "delta" ? plan.sent!.sent_events : null;
  const changedSince = (r: EventRow) => since === null || r.stream_ordering > since;
  const lazy = plan.state.lazy;
  // `required_state` is the state after the timeline, and the only state clients read (matrix-rust-sdk ignores state
  // events in the timeline): a member event there is sent here too.
  const required = [...current.values()].filter((r) => {
    if (mode === "full") return plan.state.matches(r.type, r.state_key!) || (lazy && r.type === "m.room.member" && extra.lazy.has(r.state_key!));
    if (changedSince(r) && plan.state.matches(r.type, r.state_key!)) return true;
    if (!lazy || r.type !== "m.room.member" || plan.row.membership !== "join") return false;
    // Lazy members in a delta: the timeline's senders and targets, and every membership change when there is no gap.
    return extra.lazy.has(r.state_key!) || (!timeline.limited && changedSince(r));
  });
  return { current, required: required.sort((a, b) => a.stream_ordering - b.stream_ordering) };
}

function historyRoom(
  d: Decided,
  timeline: { rows: EventRow[]; limited: boolean },
  state: RoomState,
  ctx: {
    byId: Map<string, ClientEvent>;
    summary: { joined: number; invited: number; heroes: { user_id: string; membership: string }[] } | undefined;
    bump: number;
    pos: SyncPosition | null;
    windowUpTo: number;
    unread: RoomUnreadCounts | undefined;
  },
): SlidingRoom {
  const { plan, mode } = d;
  const since = mode === "delta" ? plan.sent!.sent_events : null;
  const changedSince = (r: EventRow) => since === null || r.stream_ordering > since;
  const { current } = state;
  const serialize = (rows: EventRow[]) => rows.map((r) => ctx.byId.get(r.event_id)!);
  const posEvents = ctx.pos?.events;
  const start = timeline.rows[0]?.stream_ordering ?? ctx.windowUpTo + 1;
  const room: SlidingRoom = {
    membership: plan.row.membership,
    ...(mode === "full" && { initial: true as const }),
    ...listsOf(plan),
    bump_stamp: ctx.bump,
    is_dm: plan.isDm,
    required_state: serialize(state.required),
    timeline: serialize(timeline.rows),
    limited: timeline.limited,
    prev_batch: positionToken(start - 1),
    num_live: posEvents === undefined ? 0 : timeline.rows.filter((r) => r.stream_ordering > posEvents).length,
    notification_count: ctx.unread?.notification_count ?? 0,
    highlight_count: ctx.unread?.highlight_count ?? 0,
  };
  if (d.expandedTimeline) {
    room.expanded_timeline = true;
    room.unstable_expanded_timeline = true;
  }
  const nameRow = current.get(stateKey("m.room.name", ""));
  const avatarRow = current.get(stateKey("m.room.avatar", ""));
  const contentOf = (r: EventRow | undefined) => (r ? ((JSON.parse(r.pdu) as { content?: Record<string, unknown> }).content ?? {}) : undefined);
  const name = contentOf(nameRow)?.["name"];
  const hasName = typeof name === "string" && name !== "";
  if (mode === "full" || (nameRow && changedSince(nameRow))) {
    if (hasName) room.name = name;
    else if (mode === "delta") room.name = null;
  }
  const avatar = contentOf(avatarRow)?.["url"];
  if (mode === "full" || (avatarRow && changedSince(avatarRow))) {
    if (typeof avatar === "string" && avatar !== "") room.avatar = avatar;
    else if (mode === "delta") room.avatar = null;
  }
  if (ctx.summary) {
    room.joined_count = ctx.summary.joined;
    room.invited_count = ctx.summary.invited;
    if (!hasName) room.heroes = heroesOf(ctx.summary.heroes, current);
  }
  return room;
}

/** Heroes as MSC4186 sends them: joined or invited members first, those who left only when there are none. */
function heroesOf(candidates: { user_id: string; membership: string }[], state: Map<string, EventRow>): NonNullable<SlidingRoom["heroes"]> {
  const currentMembers = candidates.filter((h) => h.membership === "join" || h.membership === "invite");
  return (currentMembers.length > 0 ? currentMembers : candidates).map((h) => {
    const row = state.get(stateKey("m.room.member", h.user_id));
    const content = row ? ((JSON.parse(row.pdu) as { content?: Record<string, unknown> }).content ?? {}) : {};
    const hero: { user_id: string; displayname?: string; avatar_url?: string } = { user_id: h.user_id };
    if (typeof content["displayname"] === "string") hero.displayname = content["displayname"];
    if (typeof content["avatar_url"] === "string") hero.avatar_url = content["avatar_url"];
    return hero;
  });
}
