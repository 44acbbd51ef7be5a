import { z } from "zod";
import { forbidden, invalidParam, notFound } from "../http/errors";
import { type EventRow, getEventRow } from "../storage/events";
import { getReceiptsSince, putReceipt } from "../storage/receipts";
import { membershipOf } from "../storage/rooms";
import { findAccountData, setServerAccountData } from "./account-data";
import { filterVisible } from "./visibility";

export const ReceiptType = z.enum(["m.read", "m.read.private", "m.fully_read"]);
export type ReceiptType = z.infer<typeof ReceiptType>;
const PRIVATE_READ = "m.read.private";
const FULLY_READ = "m.fully_read";

/** `main` (the main timeline) or a thread root's event id. */
const ThreadId = z.union([z.literal("main"), z.string().regex(/^\$./)]);
/** Relations followed to find an event's thread, as the spec recommends ("a maximum of 3 hops"). */
const MAX_THREAD_HOPS = 3;

/** The `content` of an `m.receipt` event: event id -> receipt type -> user id -> receipt. */
export type ReceiptContent = Record<string, Record<string, Record<string, { ts: number; thread_id?: string }>>>;

async function assertJoined(db: D1Database, roomId: string, userId: string): Promise<void> {
  if ((await membershipOf(db, roomId, userId)) !== "join") throw forbidden("You are not joined to this room");
}

/** The event a receipt or marker points at: it must be in the room and visible to the user. */
async function targetEvent(db: D1Database, roomId: string, userId: string, eventId: string): Promise<EventRow> {
  const row = await getEventRow(db, eventId);
  if (!row || row.room_id !== roomId || (await filterVisible(db, roomId, userId, [row])).length === 0) {
    throw notFound(`Event ${eventId} not found in this room`);
  }
  return row;
}

/** The thread an event is in (its root's event id), or `main`; thread roots themselves are in `main`. */
async function threadOf(db: D1Database, row: EventRow): Promise<string> {
  let current = row;
  for (let hop = 1; current.relates_to !== null; hop++) {
    if (current.rel_type === "m.thread") return current.relates_to;
    if (hop === MAX_THREAD_HOPS) break;
    const parent = await getEventRow(db, current.relates_to);
    if (!parent || parent.room_id !== row.room_id) break;
    current = parent;
  }
  return "main";
}

/** Checks a `thread_id`: well formed, and the event is in that thread (or is that thread's root). */
async function checkThread(db: D1Database, threadId: unknown, target: EventRow): Promise<string> {
  const parsed = ThreadId.safeParse(threadId);
  if (!parsed.success) throw invalidParam("thread_id must be 'main' or a thread root's event id");
  if (parsed.data !== target.event_id && (await threadOf(db, target)) !== parsed.data) {
    throw invalidParam(`Event ${target.event_id} is not in thread ${parsed.data}`);
  }
  return parsed.data;
}

/** Moves the fully read marker (m.fully_read room account data) forward to `target`; never backwards. */
async function moveFullyRead(db: D1Database, userId: string, roomId: string, target: EventRow): Promise<void> {
  const current = (await findAccountData(db, userId, roomId, FULLY_READ))?.["event_id"];
  if (typeof current === "string") {
    const row = await getEventRow(db, current);
    if (row && row.room_id === roomId && row.stream_ordering >= target.stream_ordering) return;
  }
  await setServerAccountData(db, userId, roomId, FULLY_READ, { event_id: target.event_id });
}

async function storeReceipt(db: D1Database, userId: string, roomId: string, type: string, target: EventRow, threadId: string | null): Promise<void> {
  await putReceipt(db, {
    roomId,
    userId,
    receiptType: type,
    threadId,
    eventId: target.event_id,
    eventStreamOrdering: target.stream_ordering,
    ts: Date.now(),
  });
}

/**
 * POST /rooms/{roomId}/receipt/{receiptType}/{eventId}. `m.fully_read` moves the read marker instead, and takes no
 * thread. A receipt behind the user's current one of the same type and thread is accepted and changes nothing.
 */
export async function sendReceipt(
  db: D1Database,
  userId: string,
  roomId: string,
  receiptType: ReceiptType,
  eventId: string,
  threadId: unknown,
): Promise<void> {
  if (receiptType === FULLY_READ && threadId !== undefined) throw invalidParam("thread_id is not allowed for m.fully_read");
  await assertJoined(db, roomId, userId);
  const target = await targetEvent(db, roomId, userId, eventId);
  if (receiptType === FULLY_READ) return moveFullyRead(db, userId, roomId, target);
  const thread = threadId === undefined ? null : await checkThread(db, threadId, target);
  await storeReceipt(db, userId, roomId, receiptType, target, thread);
}

export interface ReadMarkers {
  "m.fully_read"?: string | undefined;
  "m.read"?: string | undefined;
  "m.read.private"?: string | undefined;
}

/** POST /rooms/{roomId}/read_markers: every event is checked before anything is written. */
export async function setReadMarkers(db: D1Database, userId: string, roomId: string, markers: ReadMarkers): Promise<void> {
  await assertJoined(db, roomId, userId);
  const targets = await Promise.all(
    (Object.entries(markers) as [keyof ReadMarkers, string | undefined][])
      .filter((entry): entry is [keyof ReadMarkers, string] => entry[1] !== undefined)
      .map(async ([type, eventId]) => ({ type, target: await targetEvent(db, roomId, userId, eventId) })),
  );
  for (const { type, target } of targets) {
    if (type === FULLY_READ) await moveFullyRead(db, userId, roomId, target);
    else await storeReceipt(db, userId, roomId, type, target, null);
  }
}

/**
 * The receipts in `roomIds` changed in (since, upTo], as one `m.receipt` content per room (a since of 0 gives all).
 * Private read receipts appear only for their own user.
 */
export async function receiptsSince(
  db: D1Database,
  userId: string,
  roomIds: string[],
  since: number,
  upTo: number,
): Promise<Record<string, ReceiptContent>> {
  const byRoom: Record<string, ReceiptContent> = {};
  for (const r of await getReceiptsSince(db, roomIds, userId, PRIVATE_READ, since, upTo)) {
    const content = (byRoom[r.room_id] ??= {});
    const byType = (content[r.event_id] ??= {});
    const byUser = (byType[r.receipt_type] ??= {});
    byUser[r.user_id] = r.thread_id === "" ? { ts: r.ts } : { ts: r.ts, thread_id: r.thread_id };
  }
  return byRoom;
}
