import type { RoomEvent } from "../rooms/event-builder";
import type { Pdu } from "../rooms/pdu";
import { typingInRooms } from "../services/typing";
import { aliasesOfRoom } from "../storage/aliases";
import { getCurrentStateRows } from "../storage/events";
import { interestedInRoom } from "./interest";
import { appserviceQueue, queueTarget } from "./publish";
import { type Appservice, ownsUser } from "./registration";
import { loadAppservices } from "./registry";

type Background = { waitUntil(p: Promise<unknown>): void };

/**
 * Ephemeral data for appservices with `receive_ephemeral` (MSC2409, Application Service API "Pushing events"):
 * sent under the same interest rules as the room's events; `only` narrows it further (private receipts).
 */
function publishEphemeral(ctx: Background, env: Env, roomId: string, edu: () => Promise<object>, only?: (as: Appservice) => boolean): void {
  let appservices: Appservice[];
  try {
    appservices = loadAppservices(env).all.filter((as) => as.receiveEphemeral && as.url !== null && (!only || only(as)));
  } catch {
    return;
  }
  if (appservices.length === 0) return;
  const work = async () => {
    const rows = await getCurrentStateRows(env.DB, roomId);
    const state = new Map<string, RoomEvent>(rows.map((r) => [`${r.type}\u0000${r.state_key}`, { event_id: r.event_id, pdu: JSON.parse(r.pdu) as Pdu }]));
    const aliases = appservices.some((as) => as.aliases.length > 0) ? await aliasesOfRoom(env.DB, roomId) : [];
    const interested = appservices.filter((as) => interestedInRoom(as, { roomId, state }, aliases));
    if (interested.length === 0) return;
    const data = await edu();
    await Promise.all(interested.map((as) => appserviceQueue(env, as.id).enqueue(queueTarget(as), [{ kind: "ephemeral", data }])));
  };
  ctx.waitUntil(work().catch((err: unknown) => console.error(`appservice ephemeral for ${roomId} failed:`, err)));
}

/** After a typing change: who types in the room now, as an `m.typing` EDU. */
export function publishTyping(ctx: Background, env: Env, roomId: string): void {
  publishEphemeral(ctx, env, roomId, async () => ({
    type: "m.typing",
    room_id: roomId,
    content: { user_ids: (await typingInRooms(env.DB, [roomId]))[roomId] ?? [] },
  }));
}

/** After a receipt: an `m.receipt` EDU; private read receipts only to the appservice owning their user. */
export function publishReceipt(
  ctx: Background,
  env: Env,
  receipt: { roomId: string; userId: string; receiptType: string; eventId: string; threadId?: unknown },
): void {
  const detail = typeof receipt.threadId === "string" ? { ts: Date.now(), thread_id: receipt.threadId } : { ts: Date.now() };
  const only = receipt.receiptType === "m.read.private" ? (as: Appservice) => ownsUser(as, receipt.userId) : undefined;
  publishEphemeral(
    ctx,
    env,
    receipt.roomId,
    async () => ({
      type: "m.receipt",
      room_id: receipt.roomId,
      content: { [receipt.eventId]: { [receipt.receiptType]: { [receipt.userId]: detail } } },
    }),
    only,
  );
}
