/**
 * Typing notifications, kept in a small D1 table rather than a Durable Object: /sync asks about all of a user's rooms
 * at once, which is one indexed query here but one RPC per room with a DO per room; and typing changes take positions
 * from the same counter as receipts and account data, so one sync token covers all three. Expiry needs no timer: a
 * lapsed timeout is a row whose expires_ts has passed (never reported as typing), and the next reader gives the stop
 * its stream position (`typingSince`).
 */
import { forbidden } from "../http/errors";
import { membershipOf } from "../storage/rooms";
import {
  getNextTypingExpiry,
  getTypingRoomsChanged,
  getTypingUsers,
  hasLapsedTyping,
  startTyping,
  stopLapsedTyping,
  stopTyping,
} from "../storage/typing";

/** Used when a client says it is typing without a timeout. */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
/**
 * The longest a client can be marked typing without refreshing. The spec sets no limit but asks clients to resend
 * every 20-30 s; the cap bounds a stale "typing..." left by a client that vanished.
 */
export const MAX_TYPING_TIMEOUT_MS = 30_000;

/** PUT /rooms/{roomId}/typing/{userId}: only for oneself, only in a room one has joined. */
export async function setTyping(
  db: D1Database,
  requesterId: string,
  roomId: string,
  userId: string,
  typing: boolean,
  timeoutMs: number | undefined,
  now = Date.now(),
): Promise<number | null> {
  if (requesterId !== userId) throw forbidden("Cannot set typing for other users");
  if ((await membershipOf(db, roomId, userId)) !== "join") throw forbidden("You are not joined to this room");
  if (!typing) return stopTyping(db, roomId, userId, now);
  const timeout = Math.min(timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS, MAX_TYPING_TIMEOUT_MS);
  return startTyping(db, roomId, userId, now + timeout, now);
}

/** Who is typing now in each of `roomIds` (rooms where nobody is are left out). */
export async function typingInRooms(db: D1Database, roomIds: string[], now = Date.now()): Promise<Record<string, string[]>> {
  const byRoom: Record<string, string[]> = {};
  for (const row of await getTypingUsers(db, roomIds, now)) (byRoom[row.room_id] ??= []).push(row.user_id);
  return byRoom;
}

/**
 * Gives typing timeouts that have lapsed by `now` a stream position, as stops. /sync calls it before reading
 * `currentStreamPosition`, so a lapse is reported by that sync rather than the next. Cheap: an indexed read, and a
 * write only when something lapsed.
 */
export async function settleTypingTimeouts(db: D1Database, now = Date.now()): Promise<void> {
  if (await hasLapsedTyping(db, now)) await stopLapsedTyping(db, now);
}

/**
 * For each of `roomIds` whose typers changed in (since, upTo], who is typing now (possibly nobody): the `m.typing`
 * contents an incremental /sync sends. Lapses not yet settled are settled first (at positions after `upTo` when
 * `upTo` was read before, so the next sync reports them).
 */
export async function typingSince(
  db: D1Database,
  roomIds: string[],
  since: number,
  upTo: number,
  now = Date.now(),
): Promise<Record<string, string[]>> {
  await settleTypingTimeouts(db, now);
  const changed = await getTypingRoomsChanged(db, roomIds, since, upTo);
  const typing = await typingInRooms(db, changed, now);
  return Object.fromEntries(changed.map((roomId) => [roomId, typing[roomId] ?? []]));
}

/** When the next typing timeout in `roomIds` lapses (ms since the epoch), for a waiting /sync to wake up; or null. */
export function nextTypingExpiry(db: D1Database, roomIds: string[], now = Date.now()): Promise<number | null> {
  return getNextTypingExpiry(db, roomIds, now);
}
