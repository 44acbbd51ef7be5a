import type { RoomEvent } from "../rooms/event-builder";
import { toClientEvent } from "../rooms/client-event";
import { aliasesOfRoom } from "../storage/aliases";
import { getEventRows } from "../storage/events";
import { type RoomView, interestedInEvent, interestedInRoom } from "./interest";
import type { QueueItem } from "./queue";
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

/** The commit's plans wait in the room object's own SQLite until every queue has taken them. */
const OUTBOX_TABLE = "CREATE TABLE IF NOT EXISTS appservice_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL)";

/** Drains in progress, per room object (a RoomObject lives in one isolate, so module state is per object). */
const drains = new Map<string, Promise<void>>();

/** The outbox Durable Object of one appservice. */
export function appserviceQueue(env: Env, appserviceId: string) {
  return env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(appserviceId));
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
 * Output to appservices, called by the RoomObject after each commit. Decides now, from the room's current
 * state, who is interested in `events`, records that in the room object's storage (local, synchronous), and hands
 * it to the appservices' queues in the background, in commit order. The sender is never delayed; a hand-off cut
 * short (the object restarting, a queue unreachable) stays recorded and goes out, first, with the room's next
 * commit. A broken registry only logs (every request answers it anyway).
 */
export function publishToAppservices(ctx: DurableObjectState, env: Env, room: RoomView, events: RoomEvent[]): void {
  try {
    const appservices = loadAppservices(env).all.filter((as) => as.url !== null);
    if (appservices.length === 0) return;
    const owed = plan(appservices, room, events);
    if (Object.keys(owed.wanted).length === 0 && owed.aliasCandidates.length === 0) return;
    ctx.storage.sql.exec(OUTBOX_TABLE);
    ctx.storage.sql.exec("INSERT INTO appservice_outbox (plan) VALUES (?)", JSON.stringify(owed));
    const key = ctx.id.toString();
    const next = (drains.get(key) ?? Promise.resolve())
      .then(() => drain(ctx, env))
      .catch((err: unknown) => console.error(`appservice hand-off for ${room.roomId} failed:`, err));
    drains.set(key, next);
    void next.finally(() => {
      if (drains.get(key) === next) drains.delete(key);
    });
    ctx.waitUntil(next);
  } catch (err) {
    console.error("appservices not notified:", err);
  }
}

/** Hands every recorded plan over, oldest first; stops at the first failure so order is kept for the next try. */
async function drain(ctx: DurableObjectState, env: Env): Promise<void> {
  const rows = ctx.storage.sql.exec<{ seq: number; plan: string }>("SELECT seq, plan FROM appservice_outbox ORDER BY seq").toArray();
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
      return withRetries(() => appserviceQueue(env, id).enqueue({ url: as.url!, hsToken: as.hsToken }, items));
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
