import { z } from "zod";
import { forbidden } from "../http/errors";
import {
  type PresenceRow,
  getPresenceRow,
  getPresenceSince,
  getUsersSharingRooms,
  putPresence,
  settleLapsedPresence,
  sharesRoom,
  touchPresence,
} from "../storage/presence";
import { notifyUsers } from "../sync/notifier";

/**
 * Presence (Client-Server API, "Presence"): set by PUT /presence/{userId}/status and by /sync's `set_presence`;
 * visible to the user and to those sharing a room with them. A change of state or status message takes a shared
 * stream position (so /sync sends it); activity alone only refreshes last_active_ts.
 */

export const PresenceState = z.enum(["online", "unavailable", "offline"]);
export type PresenceState = z.infer<typeof PresenceState>;

/** Activity this recent counts as "currently active" (and is not worth a write when it is refreshed). */
const ACTIVE_WINDOW_MS = 5 * 60_000;
const TOUCH_INTERVAL_MS = 60_000;
/** A user whose client stopped syncing this long ago is offline (clients poll at least every 30 s or so). */
const SYNC_LAPSE_MS = 5 * 60_000;

export interface PresenceContent {
  presence: PresenceState;
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
}

export interface PresenceEvent {
  type: "m.presence";
  sender: string;
  content: PresenceContent;
}

function contentOf(row: PresenceRow | null, now: number): PresenceContent {
  if (!row) return { presence: "offline" };
  const state = PresenceState.catch("offline").parse(row.state);
  const ago = Math.max(0, now - row.last_active_ts);
  return {
    presence: state,
    last_active_ago: ago,
    ...(row.status_msg === null ? {} : { status_msg: row.status_msg }),
    currently_active: state === "online" && ago < ACTIVE_WINDOW_MS,
  };
}

async function wakeWatchers(env: Env, userId: string, position: number): Promise<void> {
  const users = new Set(await getUsersSharingRooms(env.DB, userId));
  users.add(userId);
  await notifyUsers(env, users, position, "shared");
}

/** GET /presence/{userId}/status: for the user themselves and users sharing a room with them. */
export async function getPresence(db: D1Database, requesterId: string, userId: string): Promise<PresenceContent> {
  if (requesterId !== userId && !(await sharesRoom(db, requesterId, userId))) {
    throw forbidden("You do not share a room with this user");
  }
  return contentOf(await getPresenceRow(db, userId), Date.now());
}

/** PUT /presence/{userId}/status: only for yourself; the status message is replaced (cleared when not given). */
export async function setPresence(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  requesterId: string,
  userId: string,
  state: PresenceState,
  statusMsg: string | null,
): Promise<void> {
  if (requesterId !== userId) throw forbidden("You may only set your own presence");
  const now = Date.now();
  const current = await getPresenceRow(env.DB, userId);
  if (current && current.state === state && current.status_msg === statusMsg) return touchPresence(env.DB, userId, now, false);
  const position = await putPresence(env.DB, userId, state, statusMsg, now, false);
  ctx.waitUntil(wakeWatchers(env, userId, position));
}

/**
 * /sync's `set_presence` (omitted means online): `offline` leaves presence alone; `online` does not override a state
 * the user chose (unavailable); either way the sync counts as activity. Every sync also takes users whose syncing
 * lapsed offline, so no timer is needed: the change reaches others with their next sync.
 */
export async function presenceFromSync(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, userId: string, setPresence: PresenceState): Promise<void> {
  const now = Date.now();
  const current = await settleLapsedPresence(env.DB, userId, now - SYNC_LAPSE_MS);
  if (setPresence === "offline") return;
  const changes = !current || current.state === "offline" || (setPresence === "unavailable" && current.state === "online");
  if (changes || !current) {
    const position = await putPresence(env.DB, userId, setPresence, current?.status_msg ?? null, now, true);
    ctx.waitUntil(wakeWatchers(env, userId, position));
  } else if (now - current.last_active_ts > TOUCH_INTERVAL_MS || current.kept_by_sync === 0) {
    await touchPresence(env.DB, userId, now, true);
  }
}

/** The `presence` events of /sync: the user and those sharing rooms with them whose presence changed in (since, upTo]. */
export async function presenceSince(db: D1Database, userId: string, since: number, upTo: number): Promise<PresenceEvent[]> {
  const now = Date.now();
  return (await getPresenceSince(db, userId, since, upTo)).map((row) => ({ type: "m.presence", sender: row.user_id, content: contentOf(row, now) }));
}
