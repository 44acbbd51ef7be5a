import type { Requester } from "../../http/types";
import { findAccountData, ignoredUsers } from "../../services/account-data";
import { type ReceiptContent, receiptsSince } from "../../services/receipts";
import { nextTypingExpiry, settleTypingTimeouts } from "../../services/typing";
import {
  type ListRoomRow,
  type SentRoomRow,
  createConnection,
  deleteConnection,
  getConnection,
  getListSnapshot,
  getRoomTags,
  getSpaceChildren,
  saveResponse,
  settleAndReadSentRooms,
  sweepConnections,
} from "../../storage/sliding-sync";
import { syncNotifier } from "../notifier";
import { type ExtensionResults, buildExtensions, hasExtensionNews } from "./extensions";
import { type SlidingPos, formatPos, parsePos, unknownPos } from "./pos";
import { type Extensions, type ListConfig, MAX_SUBSCRIPTIONS, type RoomSubscription, type SlidingSyncBody } from "./request";
import { CombinedState, type StateConfig, compileRequiredState } from "./required-state";
import { type ListInputs, cutList, filterNeeds, orderRooms } from "./room-list";
import { type RoomPlan, type SlidingRoom, buildRooms } from "./rooms";

/**
 * A connection idle this long is forgotten; its next request gets M_UNKNOWN_POS and the client starts over. Element X
 * keeps its room list's pos across restarts (matrix-rust-sdk's `share_pos`), so a phone unused for a night or a weekend
 * resumes with only what changed rather than the whole list again.
 */
export const CONNECTION_IDLE_MS = 7 * 24 * 60 * 60_000;
/** Wake-ups that found nothing for this connection (rooms outside its lists) before answering empty anyway. */
const MAX_ROUNDS = 4;
const TYPING_LAPSE_SLACK_MS = 50;

export interface SlidingSyncRequest {
  body: SlidingSyncBody;
  pos: string | undefined;
  timeoutMs: number;
}

export interface SlidingSyncResponse {
  pos: string;
  txn_id?: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, SlidingRoom>;
  extensions: ExtensionResults;
}

/**
 * Parameters a connection keeps between requests. matrix-js-sdk sends a room subscription once (then
 * `unsubscribe_rooms`) and may send a list's ranges alone, so these are merged into what was stored rather than
 * replacing it. List counts are kept to notice a count change with no room to send.
 */
interface Sticky {
  lists?: Record<string, ListConfig>;
  subscriptions?: Record<string, RoomSubscription>;
  extensions?: Extensions;
  counts?: Record<string, number>;
}

interface Connection {
  key: number;
  /** The generation the client confirmed with its pos (for a new connection, the base the first response follows). */
  confirmed: number;
  /** This request's id: it may record its response only while it is the connection's newest request. */
  requestId: string;
  sticky: Sticky;
  sent: Map<string, SentRoomRow>;
}

/**
 * POST /sync of MSC4186. Each round reads the room list (no event bodies), cuts the lists, and builds only the rooms
 * in them that are new to the connection or changed since it last sent them; with nothing to send it waits on the
 * user's notifier and tries again.
 */
export async function slidingSync(env: Env, requester: Requester, request: SlidingSyncRequest): Promise<SlidingSyncResponse> {
  const db = env.DB;
  const pos = request.pos === undefined || request.pos === "" ? null : parsePos(request.pos);
  const deadline = Date.now() + (pos ? request.timeoutMs : 0);
  const connection = await openConnection(db, requester, request.body.conn_id ?? "", pos);
  const sticky = mergeSticky(connection.sticky, request.body);
  let waitFailed = false;
  for (let round = 1; ; round++) {
    const built = await buildResponse(env, requester, { pos, sticky, sent: connection.sent });
    const counts = Object.fromEntries(Object.entries(built.response.lists).map(([name, l]) => [name, l.count]));
    const countsChanged = JSON.stringify(counts) !== JSON.stringify(connection.sticky.counts ?? {});
    const news = Object.keys(built.response.rooms).length > 0 || hasExtensionNews(built.response.extensions) || countsChanged;
    const remaining = deadline - Date.now();
    if (pos === null || news || remaining <= 0 || round === MAX_ROUNDS || waitFailed) {
      const generation = connection.confirmed + 1;
      const response: SlidingSyncResponse = { ...built.response, pos: formatPos({ ...built.upTo, generation }) };
      if (request.body.txn_id !== undefined) response.txn_id = request.body.txn_id;
      const saved = await saveResponse(db, connection.key, {
        requestId: connection.requestId,
        generation,
        sticky: JSON.stringify({ ...sticky, counts }),
        prevSticky: JSON.stringify(connection.sticky),
        now: Date.now(),
        rooms: built.sent,
      });
      // A newer request on the connection replaced this one; its client has moved on and gets nothing recorded.
      if (!saved) throw unknownPos("Unknown pos: a newer request on this connection replaced this one");
      return response;
    }
    const lapse = await nextTypingExpiry(db, built.visibleRooms);
    const wait = lapse === null ? remaining : Math.min(remaining, Math.max(0, lapse - Date.now()) + TYPING_LAPSE_SLACK_MS);
    try {
      await syncNotifier(env, requester.userId).wait(built.upTo.events, wait, built.upTo.shared);
    } catch (err) {
      // The notifier is gone (a deploy resets Durable Objects): answer now; the client polls again.
      console.error("sliding sync notifier wait failed", err);
      waitFailed = true;
    }
  }
}

/**
 * The connection a request continues, or a new one. A pos must be the connection's latest generation or the one
 * before (the client repeating a request whose response it lost); anything else, an idle connection, or a pos
 * another device was given, is M_UNKNOWN_POS.
 */
async function openConnection(db: D1Database, requester: Requester, connId: string, pos: SlidingPos | null): Promise<Connection> {
  const { userId, deviceId } = requester;
  const now = Date.now();
  const requestId = crypto.randomUUID();
  if (pos === null) {
    await sweepConnections(db, userId, deviceId, now - CONNECTION_IDLE_MS);
    const key = await createConnection(db, { userId, deviceId, connId, generation: now, now, requestId });
    return { key, confirmed: now, requestId, sticky: {}, sent: new Map() };
  }
  const row = await getConnection(db, userId, deviceId, connId);
  if (!row) throw unknownPos("Unknown pos: no such connection");
  if (now - row.last_used_ts > CONNECTION_IDLE_MS) {
    await deleteConnection(db, row.conn_key);
    throw unknownPos("Unknown pos: the connection expired");
  }
  let sticky: string;
  if (pos.generation === row.generation) sticky = row.sticky;
  else if (pos.generation === row.generation - 1 && row.prev_sticky !== null) sticky = row.prev_sticky;
  else throw unknownPos("Unknown pos");
  const sent = await settleAndReadSentRooms(db, row.conn_key, pos.generation, requestId);
  return { key: row.conn_key, confirmed: pos.generation, requestId, sticky: JSON.parse(sticky) as Sticky, sent: new Map(sent.map((r) => [r.room_id, r])) };
}

function mergeSticky(stored: Sticky, body: SlidingSyncBody): Sticky {
  let lists = stored.lists ?? {};
  if (body.lists) {
    lists = Object.fromEntries(
      Object.entries(body.lists).map(([name, list]) => {
        const previous = { ...(lists[name] ?? {}) };
        if (list.range !== undefined || list.ranges !== undefined) {
          delete previous.range;
          delete previous.ranges;
        }
        return [name, { ...previous, ...list }];
      }),
    );
  }
  const subscriptions = { ...(stored.subscriptions ?? {}), ...(body.room_subscriptions ?? {}) };
  for (const roomId of body.unsubscribe_rooms ?? []) delete subscriptions[roomId];
  // The most recent subscriptions win when a client keeps adding them.
  const kept = Object.entries(subscriptions).slice(-MAX_SUBSCRIPTIONS);
  const extensions: Extensions = { ...(stored.extensions ?? {}), ...(body.extensions ?? {}) };
  // The to-device `since` acknowledges messages: it is the client's to give on each request, never remembered.
  if (extensions.to_device) extensions.to_device = { ...extensions.to_device, since: body.extensions?.to_device?.since };
  return { lists, subscriptions: Object.fromEntries(kept), extensions, counts: stored.counts ?? {} };
}

interface Built {
  response: Omit<SlidingSyncResponse, "pos">;
  upTo: { events: number; shared: number };
  sent: SentRoomRow[];
  visibleRooms: string[];
}

async function buildResponse(
  env: Env,
  requester: Requester,
  state: { pos: SlidingPos | null; sticky: Sticky; sent: Map<string, SentRoomRow> },
): Promise<Built> {
  const db = env.DB;
  const { userId } = requester;
  const { pos, sticky } = state;
  const lists = sticky.lists ?? {};
  const subscriptions = sticky.subscriptions ?? {};
  const needs = filterNeeds(Object.values(lists));
  await settleTypingTimeouts(db);
  const [snapshot, ignored, direct, tags, spaceChildren] = await Promise.all([
    getListSnapshot(db, userId, {
      withRooms: Object.keys(lists).length + Object.keys(subscriptions).length > 0,
      withRoomType: needs.roomType,
      withEncryption: needs.encryption,
    }),
    ignoredUsers(db, userId),
    findAccountData(db, userId, null, "m.direct"),
    needs.tags ? getRoomTags(db, userId) : Promise.resolve(new Map<string, string[]>()),
    getSpaceChildren(db, needs.spaces),
  ]);
  const upTo = snapshot.position;
  if (pos && (pos.events > upTo.events || pos.shared > upTo.shared)) throw unknownPos("Unknown pos: it is from the future");
  const joinedSpaces = new Set(snapshot.rooms.filter((r) => r.membership === "join").map((r) => r.room_id));
  const inputs: ListInputs = {
    userId,
    dmRooms: dmRoomsOf(direct),
    ignored,
    tags,
    spaceChildren: new Map([...spaceChildren].filter(([space]) => joinedSpaces.has(space))),
    sentRooms: new Set(state.sent.keys()),
  };

  const ordered = orderRooms(snapshot.rooms, inputs);
  const configs = new Map<string, { state: StateConfig; limit: number; lists: string[] }[]>();
  const addConfig = (roomId: string, config: { state: StateConfig; limit: number; lists: string[] }) =>
    configs.set(roomId, [...(configs.get(roomId) ?? []), config]);
  const listResults: Record<string, { count: number }> = {};
  for (const [name, list] of Object.entries(lists)) {
    const cut = cutList(ordered, list, inputs);
    listResults[name] = { count: cut.count };
    const stateConfig = compileRequiredState(list.required_state, userId);
    for (const roomId of cut.roomIds) addConfig(roomId, { state: stateConfig, limit: list.timeline_limit ?? 0, lists: [name] });
  }
  const rowById = new Map(snapshot.rooms.map((r) => [r.room_id, r]));
  for (const [roomId, sub] of Object.entries(subscriptions)) {
    // Only rooms the user is, was, or is invited to be in: others are ignored, as MSC4186 says.
    if (rowById.has(roomId)) addConfig(roomId, { state: compileRequiredState(sub.required_state, userId), limit: sub.timeline_limit ?? 0, lists: [] });
  }

  // Rooms whose unread counts the user's own receipts changed since the last response (no event marks them).
  const joinedPlanned = [...configs.keys()].filter((roomId) => rowById.get(roomId)!.membership === "join");
  const receiptsMoved = pos && joinedPlanned.length > 0 ? await receiptsSince(db, userId, joinedPlanned, pos.shared, upTo.shared) : {};
  const ownReceiptRooms = new Set(Object.entries(receiptsMoved).filter(([, content]) => ownReceiptIn(content, userId)).map(([roomId]) => roomId));
  const plans: RoomPlan[] = [...configs].map(([roomId, list]) => {
    const row: ListRoomRow = rowById.get(roomId)!;
    return {
      row,
      lists: list.flatMap((c) => c.lists),
      state: new CombinedState(list.map((c) => c.state)),
      timelineLimit: Math.max(...list.map((c) => c.limit)),
      sent: state.sent.get(roomId),
      isDm: inputs.dmRooms.has(roomId),
      receiptMoved: ownReceiptRooms.has(roomId),
      subscribed: roomId in subscriptions,
    };
  });
  const built = await buildRooms(db, requester, plans, { upTo, pos, ignored });
  const visibleRooms = plans.filter((p) => p.row.membership === "join").map((p) => p.row.room_id);
  const extensions = await buildExtensions(env, requester, sticky.extensions ?? {}, {
    pos,
    upTo,
    visibleRooms,
    fullRooms: new Set(built.fullRooms),
  });
  return { response: { lists: listResults, rooms: built.rooms, extensions }, upTo, sent: built.sent, visibleRooms };
}

/** Whether an `m.receipt` content holds a receipt of `userId`. */
function ownReceiptIn(content: ReceiptContent, userId: string): boolean {
  return Object.values(content).some((byType) => Object.values(byType).some((byUser) => userId in byUser));
}

/** The rooms `m.direct` names (its content maps user IDs to lists of room IDs). */
function dmRoomsOf(direct: Record<string, unknown> | null): Set<string> {
  const rooms = new Set<string>();
  for (const value of Object.values(direct ?? {})) {
    if (Array.isArray(value)) for (const roomId of value) if (typeof roomId === "string") rooms.add(roomId);
  }
  return rooms;
}
