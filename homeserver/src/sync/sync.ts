import { invalidParam } from "../http/errors";
import type { Requester } from "../http/types";
import { accountDataSince, ignoredUsers } from "../services/account-data";
import { type PresenceEvent, presenceSince } from "../services/presence";
import { pushRulesAccountData } from "../services/push-rules";
import { receiptsSince } from "../services/receipts";
import { nextTypingExpiry, settleTypingTimeouts, typingInRooms, typingSince } from "../services/typing";
import { type EventRow, getEventRows } from "../storage/events";
import { type MembershipRow, getJoinedRoomsWithNewEvents, getSyncSnapshot } from "../storage/sync";
import { type SyncFilter, allowsRoom, allowsType } from "./filter";
import { strippedStateOf } from "./invites";
import { syncNotifier } from "./notifier";
import { type PlannedRoom, type RoomContext, buildRooms, planJoinedRoom, planLeftRoom } from "./room-sections";
import { type SyncPosition, syncToken } from "./token";
import type { BasicEvent, SyncResponse } from "./types";
import { e2eeSyncSection, hasE2eeNews } from "../e2ee/sync-section";

export interface SyncRequest {
  since: SyncPosition | null;
  timeoutMs: number;
  fullState: boolean;
  /** Send `state_after` (the state at the timeline's end) instead of `state` (spec v1.16, use_state_after). */
  useStateAfter: boolean;
  filter: SyncFilter;
}

/** Wake a little after a typing timeout lapses, so the lapse is certainly past when the sync looks again. */
const TYPING_LAPSE_SLACK_MS = 50;
/**
 * Wake-ups that found nothing for the client (events it may not see, or filters out) before answering empty anyway:
 * each round costs a dozen D1 reads, and a Worker invocation has a budget of them.
 */
const MAX_ROUNDS = 3;

/**
 * GET /sync: answers at once when there is something new (or on an initial or full-state sync); otherwise waits on
 * the user's notifier until a writer reports a commit, a typing timeout lapses, or the timeout passes. Each round
 * reads D1 first and then waits with the positions it read, so a commit in between is never missed.
 */
export async function sync(env: Env, requester: Requester, request: SyncRequest): Promise<SyncResponse> {
  const db = env.DB;
  const deadline = Date.now() + request.timeoutMs;
  for (let round = 1; ; round++) {
    await settleTypingTimeouts(db);
    const { position: upTo, memberships } = await getSyncSnapshot(db, requester.userId);
    const { since } = request;
    if (since && (since.events > upTo.events || since.shared > upTo.shared)) throw invalidParam("The since token is from the future");
    // End-to-end encryption (e2ee/sync-section.ts); it may stop the shared stream early when to-device messages queue up.
    const e2ee = await e2eeSyncSection(env, requester, since, upTo);
    const { response, joinedRoomIds } = await buildSync(db, requester, request, e2ee.upTo, memberships);
    Object.assign(response, e2ee.section);
    const remaining = deadline - Date.now();
    if (since === null || request.fullState || hasNews(response) || hasE2eeNews(e2ee.section) || remaining <= 0 || round === MAX_ROUNDS) return response;
    const lapse = await nextTypingExpiry(db, joinedRoomIds);
    const wait = lapse === null ? remaining : Math.min(remaining, Math.max(0, lapse - Date.now()) + TYPING_LAPSE_SLACK_MS);
    try {
      await syncNotifier(env, requester.userId).wait(upTo.events, wait, upTo.shared);
    } catch (err) {
      // The notifier is gone (a deploy resets Durable Objects): answer what we have; the client polls again.
      console.error("sync notifier wait failed", err);
      return response;
    }
  }
}

function hasNews(response: SyncResponse): boolean {
  const { rooms } = response;
  const sections = [rooms.join, rooms.invite, rooms.knock, rooms.leave];
  const presence = response.presence?.events.length ?? 0;
  return response.account_data.events.length > 0 || presence > 0 || sections.some((s) => Object.keys(s).length > 0);
}

/** Everything the user may see that changed in (since, upTo], or everything as of upTo when there is no since. */
async function buildSync(
  db: D1Database,
  requester: Requester,
  request: SyncRequest,
  upTo: SyncPosition,
  memberships: MembershipRow[],
): Promise<{ response: SyncResponse; joinedRoomIds: string[] }> {
  const { since, filter } = request;
  const userId = requester.userId;
  const [roomsWithEvents, ignored, accountData] = await Promise.all([
    since ? getJoinedRoomsWithNewEvents(db, userId, since.events, upTo.events) : Promise.resolve([]),
    ignoredUsers(db, userId),
    accountDataSince(db, userId, since?.shared ?? 0, upTo.shared),
  ]);
  const rooms = memberships.filter((m) => allowsRoom(filter, m.room_id));
  const joinedRoomIds = rooms.filter((m) => m.membership === "join").map((m) => m.room_id);
  // Member events are read only for memberships the client has not seen: an invite or knock for its stripped state,
  // a join or leave for the membership it replaced.
  const unseen = rooms.filter((m) =>
    since === null ? m.membership === "invite" || m.membership === "knock" || (m.membership !== "join" && filter.room?.include_leave) : m.stream_ordering > since.events,
  );
  const [typing, receipts, memberEvents, presence] = await Promise.all([
    since ? typingSince(db, joinedRoomIds, since.shared, upTo.shared) : typingInRooms(db, joinedRoomIds),
    receiptsSince(db, userId, joinedRoomIds, since?.shared ?? 0, upTo.shared),
    getEventRows(db, unseen.map((m) => m.event_id)),
    presenceSince(db, userId, since?.shared ?? 0, upTo.shared),
  ]);
  const memberEventById = new Map(memberEvents.map((e) => [e.event_id, e]));
  const changed = { events: new Set(roomsWithEvents), typing, receipts, accountData: accountData.rooms };

  const response: SyncResponse = {
    next_batch: syncToken(upTo),
    rooms: { join: {}, invite: {}, knock: {}, leave: {} },
    account_data: { events: withPushRules(userId, since, accountData.global).filter((e) => allowsType(filter.account_data, e.type)) },
    presence: { events: presence.filter((e) => allowsPresence(filter, e)) },
  };
  const context: RoomContext = { db, requester, request, upTo, ignored, changed };
  const planned: PlannedRoom[] = [];
  for (const m of rooms) {
    const memberEvent = memberEventById.get(m.event_id);
    if (m.membership === "join") {
      const room = planJoinedRoom(context, m, memberEvent);
      if (room) planned.push(room);
    } else if (m.membership === "invite" || m.membership === "knock") {
      if (memberEvent && !ignored.has(memberEvent.sender)) addStrippedRoom(response, m.membership, memberEvent);
    } else if (memberEvent && (since !== null || filter.room?.include_leave)) {
      planned.push(planLeftRoom(context, m, memberEvent));
    }
  }
  const { join, leave } = await buildRooms(context, planned);
  response.rooms.join = join;
  response.rooms.leave = leave;
  return { response, joinedRoomIds };
}

/** Clients read push rules from an initial sync: a user who never changed theirs gets the defaults. */
function withPushRules(userId: string, since: SyncPosition | null, global: BasicEvent[]): BasicEvent[] {
  return since === null && !global.some((e) => e.type === "m.push_rules") ? [...global, pushRulesAccountData(userId)] : global;
}

function allowsPresence(filter: SyncFilter, event: PresenceEvent): boolean {
  const f = filter.presence;
  if (!allowsType(f, event.type)) return false;
  if (f?.senders && !f.senders.includes(event.sender)) return false;
  return !f?.not_senders?.includes(event.sender);
}

/** An invite or knock: what the user may see of the room is the stripped state stored with their member event. */
function addStrippedRoom(response: SyncResponse, membership: "invite" | "knock", memberEvent: EventRow): void {
  const roomId = memberEvent.room_id;
  if (membership === "invite") response.rooms.invite[roomId] = { invite_state: { events: strippedStateOf(memberEvent, "invite_room_state") } };
  else response.rooms.knock[roomId] = { knock_state: { events: strippedStateOf(memberEvent, "knock_room_state") } };
}
