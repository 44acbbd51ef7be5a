import type { Requester } from "../http/types";
import { type RoomEventFilter, matchesFilter } from "../services/event-filter";
import { scan } from "../services/messages";
import { positionToken } from "../services/pagination";
import { visibleEventIds } from "../services/visibility";
import { type EventRow, stateRowsAtStatement, timelineRowsStatement } from "../storage/events";
import { runBatched } from "../storage/sync";
import { type VisibilityInputs, type VisibilityRow, visibilityInputStatement, visibilityInputsOf } from "../storage/visibility";
import { type SyncFilter, allowsRoomIn } from "./filter";

const DEFAULT_TIMELINE_LIMIT = 10;
/** A bound on one room's timeline per sync, whatever the filter asks: a gap is paginated with /messages. */
const MAX_TIMELINE_LIMIT = 500;

export interface RoomWindow {
  roomId: string;
  /** The user's membership now (history visibility depends on it). */
  membership: string;
  /** The timeline ends at this event position (the sync's position, or the user's leave event). */
  upTo: number;
  /** What the client already has of this room: null when it has nothing (initial sync, a newly joined room). */
  since: number | null;
  /** Send the whole state even though the client has the room (`full_state`). */
  fullState: boolean;
  /** An event that must end the timeline whatever visibility says: the user's own leave, kick or ban. */
  ownMembershipEventId?: string;
}

/** A room's timeline and state as stored rows: serialized later, for all rooms at once. */
export interface RoomRows {
  timeline: EventRow[];
  limited: boolean;
  prevBatch: string;
  state: EventRow[];
}

interface Options {
  filter: SyncFilter;
  ignored: ReadonlySet<string>;
  /** Send the state at the timeline's end (`state_after`) rather than at its start. */
  stateAfter: boolean;
}

/**
 * Rooms' timelines and state (spec: "Syncing"): the latest `limit` events after `since` the user may see, `limited`
 * when older ones were left out; and the state at the timeline's start (or end, for `state_after`): all of it when
 * the client has nothing of the room or asked for full state, else what changed since `since`.
 *
 * Batched over rooms, three rounds of reads whatever their number: every room's newest events, then their
 * history-visibility inputs, then every room's state. Only a room whose newest events are mostly hidden is scanned
 * on its own.
 */
export async function roomTimelinesAndState(
  db: D1Database,
  requester: Requester,
  windows: RoomWindow[],
  options: Options,
): Promise<Map<string, RoomRows>> {
  const timelines = await readTimelines(db, requester.userId, windows, options);
  const starts = timelines.map((t, i) => t.rows[0]?.stream_ordering ?? windows[i]!.upTo + 1);
  const points = windows.map((w, i) => statePoint(w, options, starts[i]!, timelines[i]!.limited));
  const wanted = windows.flatMap((w, i) => (points[i] === null ? [] : [stateRowsAtStatement(db, w.roomId, points[i]!)]));
  const stateResults = await runBatched(db, wanted);
  let next = 0;
  const result = new Map<string, RoomRows>();
  windows.forEach((w, i) => {
    const { rows, limited } = timelines[i]!;
    const stateAt = points[i] === null ? [] : (stateResults[next++]!.results as EventRow[]);
    const state = selectState(stateAt, w, options, rows, { limited, userId: requester.userId });
    result.set(w.roomId, { timeline: rows, limited, prevBatch: positionToken(starts[i]! - 1), state });
  });
  return result;
}

/** Each window's timeline (oldest first) in two batched reads, plus a scan for any room mostly hidden from the user. */
export async function readTimelines(
  db: D1Database,
  userId: string,
  windows: RoomWindow[],
  options: Options,
): Promise<{ rows: EventRow[]; limited: boolean }[]> {
  const filter = options.filter.room?.timeline ?? {};
  const limit = Math.min(filter.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
  // Twice what is needed leaves room for hidden events; one more tells whether older events exist.
  const fetch = limit * 2 + 1;
  // A room the timeline filter leaves out reads an empty window.
  const statements = windows.map((w) =>
    timelineRowsStatement(db, w.roomId, { after: w.since ?? 0, upTo: allowsRoomIn(filter, w.roomId) ? w.upTo : 0, dir: "b", limit: fetch }),
  );
  const fetched = (await runBatched(db, statements)).map((r) => (r as D1Result<EventRow>).results);
  // Visibility inputs over just the rows read (an index range of the room's events), so a long history costs nothing.
  const withRows = windows.flatMap((_, i) => (fetched[i]!.length > 0 ? [i] : []));
  const visibilityResults = await runBatched(
    db,
    withRows.map((i) => {
      const rows = fetched[i]!;
      return visibilityInputStatement(db, windows[i]!.roomId, userId, rows[rows.length - 1]!.stream_ordering, rows[0]!.stream_ordering);
    }),
  );
  const visibility = new Map(withRows.map((i, k) => [i, visibilityInputsOf(visibilityResults[k] as D1Result<VisibilityRow>)]));
  return Promise.all(
    windows.map(async (w, i) => {
      const newestFirst = fetched[i]!;
      const inputs = visibility.get(i);
      const picked = inputs
        ? (pickTimeline(newestFirst, inputs, w, { limit, fetch, filter, ignored: options.ignored }) ??
          (await scanTimeline(db, userId, w, limit, filter, options.ignored)))
        : { rows: [], limited: false };
      const own = w.ownMembershipEventId;
      if (own && !picked.rows.some((r) => r.event_id === own)) {
        // The user's own leave ends the window, so it is the newest row read.
        const row = newestFirst.find((r) => r.event_id === own);
        if (row) picked.rows.push(row);
      }
      return picked;
    }),
  );
}

/**
 * The timeline from one window of newest events (`newestFirst`): null when too many of them are hidden to tell,
 * in which case the room is scanned on its own.
 */
function pickTimeline(
  newestFirst: EventRow[],
  visibility: VisibilityInputs,
  w: RoomWindow,
  opts: { limit: number; fetch: number; filter: RoomEventFilter; ignored: ReadonlySet<string> },
): { rows: EventRow[]; limited: boolean } | null {
  const visible = visibleEventIds(visibility, w.membership, [...newestFirst].reverse());
  const candidates = newestFirst.filter((r) => visible.has(r.event_id) && matchesFilter(opts.filter, r) && !opts.ignored.has(r.sender));
  if (candidates.length > opts.limit) return { rows: candidates.slice(0, opts.limit).reverse(), limited: true };
  if (newestFirst.length < opts.fetch) return { rows: candidates.reverse(), limited: false };
  return null;
}

async function scanTimeline(
  db: D1Database,
  userId: string,
  w: RoomWindow,
  limit: number,
  filter: RoomEventFilter,
  ignored: ReadonlySet<string>,
): Promise<{ rows: EventRow[]; limited: boolean }> {
  const scanned = await scan(db, w.roomId, userId, { from: w.upTo, to: w.since, dir: "b", limit, filter });
  return { rows: scanned.rows.filter((r) => !ignored.has(r.sender)).reverse(), limited: scanned.next !== null };
}

/** Where the room's state must be read (an event position), or null when nothing is to be sent. */
function statePoint(w: RoomWindow, options: Options, start: number, limited: boolean): number | null {
  const complete = w.since === null || w.fullState;
  // Changes outside the timeline exist only after it, or in the gap before a limited one.
  const gap = options.stateAfter || limited;
  const lazy = options.filter.room?.state?.lazy_load_members === true;
  if (!complete && !gap && !lazy) return null;
  return options.stateAfter ? w.upTo : start - 1;
}

/** The state entries to send, from the state at the chosen point. */
function selectState(
  stateAt: EventRow[],
  w: RoomWindow,
  options: Options,
  timeline: EventRow[],
  { limited, userId }: { limited: boolean; userId: string },
): EventRow[] {
  const stateFilter = options.filter.room?.state ?? {};
  if (!allowsRoomIn(stateFilter, w.roomId)) return [];
  const complete = w.since === null || w.fullState;
  const gap = options.stateAfter || limited;
  const rows = stateAt.filter((r) => matchesFilter(stateFilter, r));
  const changed = (r: EventRow) => w.since === null || r.stream_ordering > w.since;
  if (!stateFilter.lazy_load_members) return complete ? rows : rows.filter(changed);
  // Lazy-loading members: other state as usual; member events only of the timeline's senders (and the user's own
  // when the client gets the whole state), plus every member change in a gap, as the spec requires.
  const senders = new Set(timeline.map((r) => r.sender));
  return rows.filter((r) => {
    if (r.type !== "m.room.member") return complete || (gap && changed(r));
    if (senders.has(r.state_key!)) return true;
    if (complete) return r.state_key === userId;
    return gap && changed(r);
  });
}
