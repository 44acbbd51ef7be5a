import type { RoomEvent } from "../rooms/event-builder";
import { toClientEvent } from "../rooms/client-event";
import { aliasesOfRoom } from "../storage/aliases";
import { getEventRows } from "../storage/events";
import { type RoomView, interestedInEvent, interestedInRoom } from "./interest";
import type { QueueItem, QueueTarget } from "./queue";
import { type Appservice, matchesAny } from "./registration";
import { loadAppservices } from "./registry";

/**
 * What one commit owes the appservices, decided at commit time from the room's state then: the event ids each
 * interested appservice gets, and the appservices still to check against the room's directory aliases (a D1 read,
 * done in the background).
 */
interface HandOffPlan {
  roomId: string;
  eventIds: string[];
  wanted: Record<string, string[]>;
  aliasCandidates: string[];
}

/**
 * The commits' plans wait in the room object's own SQLite until every queue has taken them. A plan is written
 * before its D1 commit (`committed = 0`): the commit is a subrequest, which the object's output gate holds until
 * that local write is durable, so no commit can exist without its plan, even if the process dies right after it.
 */
const OUTBOX_TABLE =
  "CREATE TABLE IF NOT EXISTS appservice_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, committed INTEGER NOT NULL DEFAULT 1)";

/** Drains in progress, per room object (a RoomObject lives in one isolate, so module state is per object). */
const drains = new Map<string, Promise<void>>();

/** The outbox Durable Object of one appservice. */
export function appserviceQueue(env: Env, appserviceId: string) {
  return env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(appserviceId));
}

/** Where and how a queue delivers for this appservice (with MSC3202, what it needs for the encryption data). */
export function queueTarget(as: Appservice): QueueTarget {
  const target: QueueTarget = { url: as.url!, hsToken: as.hsToken };
  if (as.msc3202) target.msc3202 = { senderUserId: as.senderUserId, userNamespaces: as.users.map((ns) => ns.source) };
  return target;
}

function plan(appservices: readonly Appservice[], room: RoomView, events: RoomEvent[]): HandOffPlan {
  const wanted: Record<string, string[]> = {};
  const aliasCandidates: string[] = [];
  for (const as of appservices) {
    const wholeRoom = interestedInRoom(as, room, []);
    const ids = events.filter((e) => wholeRoom || interestedInEvent(as, e)).map((e) => e.event_id);
    if (ids.length > 0) wanted[as.id] = ids;
    if (!wholeRoom && as.aliases.length > 0) aliasCandidates.push(as.id);
  }
  return { roomId: room.roomId, eventIds: events.map((e) => e.event_id), wanted, aliasCandidates };
}

/**
 * Output to appservices, step 1, called by the RoomObject just before it commits `events`: decides from the room's
 * state who is interested and records the plan, not yet committed. Returns the plan's row, or null when no
 * appservice cares. A broken registry only logs (every request answers it anyway).
 */
export function planHandOff(ctx: DurableObjectState, env: Env, room: RoomView, events: RoomEvent[]): number | null {
  try {
    const appservices = loadAppservices(env).all.filter((as) => as.url !== null);
    if (appservices.length === 0) return null;
    const owed = plan(appservices, room, events);
    if (Object.keys(owed.wanted).length === 0 && owed.aliasCandidates.length === 0) return null;
    ctx.storage.sql.exec(OUTBOX_TABLE);
    return ctx.storage.sql.exec<{ seq: number }>("INSERT INTO appservice_outbox (plan, committed) VALUES (?, 0) RETURNING seq", JSON.stringify(owed)).one().seq;
  } catch (err) {
    console.error("appservices not notified:", err);
    return null;
  }
}

/**
 * Step 2, after the commit: with `committed`, marks the plan committed and hands every committed plan to the
 * appservices' queues in the background, in commit order (the sender is never delayed); without, drops it.
 * A hand-off cut short (a queue unreachable) stays recorded and goes out, first, with the room's next commit.
 */
export function settleHandOff(ctx: DurableObjectState, env: Env, roomId: string, seq: number | null, committed: boolean): void {
  if (seq === null) return;
  if (!committed) {
    ctx.storage.sql.exec("DELETE FROM appservice_outbox WHERE seq = ?", seq);
    return;
  }
  ctx.storage.sql.exec("UPDATE appservice_outbox SET committed = 1 WHERE seq = ?", seq);
  startDrain(ctx, env, roomId);
}

/**
 * After a restart: plans written before a commit whose outcome the object never saw are kept if their events are
 * in D1 (the commit happened) and dropped otherwise, then everything owed is handed over.
 */
export async function recoverHandOffs(ctx: DurableObjectState, env: Env, roomId: string): Promise<void> {
  ctx.storage.sql.exec(OUTBOX_TABLE);
  const open = ctx.storage.sql.exec<{ seq: number; plan: string }>("SELECT seq, plan FROM appservice_outbox WHERE committed = 0").toArray();
  for (const row of open) {
    const owed = JSON.parse(row.plan) as HandOffPlan;
    const found = await getEventRows(env.DB, owed.eventIds.slice(0, 1));
    if (found.length > 0) ctx.storage.sql.exec("UPDATE appservice_outbox SET committed = 1 WHERE seq = ?", row.seq);
    else ctx.storage.sql.exec("DELETE FROM appservice_outbox WHERE seq = ?", row.seq);
  }
  if (ctx.storage.sql.exec("SELECT 1 FROM appservice_outbox LIMIT 1").toArray().length > 0) startDrain(ctx, env, roomId);
}

/**
 * How soon after a commit with a plan the room object looks at its outbox again (its alarm): a drain the process
 * did not live to finish, with no later commit to carry it, is finished then, even after a restart.
 */
export const HAND_OFF_WATCHDOG_MS = 10_000;

/** The room whose plans wait in this object's outbox, or null when it is empty. */
export function outboxRoomId(ctx: DurableObjectState): string | null {
  ctx.storage.sql.exec(OUTBOX_TABLE);
  const row = ctx.storage.sql.exec<{ plan: string }>("SELECT plan FROM appservice_outbox ORDER BY seq LIMIT 1").toArray()[0];
  return row ? (JSON.parse(row.plan) as HandOffPlan).roomId : null;
}

/** Hands over every committed plan and waits for it; true when some are still owed (a queue unreachable). */
export async function finishHandOffs(ctx: DurableObjectState, env: Env, roomId: string): Promise<boolean> {
  startDrain(ctx, env, roomId);
  await drains.get(ctx.id.toString());
  return ctx.storage.sql.exec("SELECT 1 FROM appservice_outbox WHERE committed = 1 LIMIT 1").toArray().length > 0;
}

function startDrain(ctx: DurableObjectState, env: Env, roomId: string): void {
  const key = ctx.id.toString();
  const next = (drains.get(key) ?? Promise.resolve())
    .then(() => drain(ctx, env))
    .catch((err: unknown) => console.error(`appservice hand-off for ${roomId} failed:`, err));
  drains.set(key, next);
  void next.finally(() => {
    if (drains.get(key) === next) drains.delete(key);
  });
  ctx.waitUntil(next);
}

/** Hands every committed plan over, oldest first; stops at the first failure so order is kept for the next try. */
async function drain(ctx: DurableObjectState, env: Env): Promise<void> {
  const rows = ctx.storage.sql
    .exec<{ seq: number; plan: string }>("SELECT seq, plan FROM appservice_outbox WHERE committed = 1 ORDER BY seq")
    .toArray();
  for (const row of rows) {
    await handOff(env, JSON.parse(row.plan) as HandOffPlan);
    ctx.storage.sql.exec("DELETE FROM appservice_outbox WHERE seq = ?", row.seq);
  }
}

async function handOff(env: Env, owed: HandOffPlan): Promise<void> {
  const registry = loadAppservices(env);
  const wanted = new Map(Object.entries(owed.wanted));
  if (owed.aliasCandidates.length > 0) {
    const aliases = await aliasesOfRoom(env.DB, owed.roomId);
    for (const id of owed.aliasCandidates) {
      const as = registry.byId(id);
      if (as && aliases.some((alias) => matchesAny(as.aliases, alias))) wanted.set(id, owed.eventIds);
    }
  }
  if (wanted.size === 0) return;
  // The committed rows, so appservices see exactly what clients see (unsigned prev_content, invite state...).
  const rows = await getEventRows(env.DB, owed.eventIds);
  const now = Date.now();
  const byId = new Map(rows.sort((a, b) => a.stream_ordering - b.stream_ordering).map((r) => [r.event_id, toClientEvent(r, { now })]));
  await Promise.all(
    [...wanted].map(([id, eventIds]) => {
      const as = registry.byId(id);
      if (!as?.url) return Promise.resolve();
      const items: QueueItem[] = [...byId].filter(([eventId]) => eventIds.includes(eventId)).map(([eventId, event]) => ({ kind: "event", data: event, key: eventId }));
      return withRetries(() => appserviceQueue(env, id).enqueue(queueTarget(as), items));
    }),
  );
}

/** Enqueueing is idempotent per event, so a failed RPC (an object restarting, an overload) is simply retried. */
async function withRetries(work: () => Promise<void>, attempts = 4): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}
