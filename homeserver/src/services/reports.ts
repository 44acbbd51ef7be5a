import { notFound } from "../http/errors";
import type { Requester } from "../http/types";
import { getEventRow } from "../storage/events";
import { insertEventReport, insertRoomReport } from "../storage/reports";
import { getRoom, membershipOf } from "../storage/rooms";
import { filterVisible } from "./visibility";

/**
 * POST /rooms/{roomId}/report/{eventId}: the reporter must be joined to the room (spec v1.8) and able to see the
 * event. Every refusal is the same 404, so reports cannot be used to learn which events exist.
 */
export async function reportEvent(
  db: D1Database,
  requester: Requester,
  roomId: string,
  eventId: string,
  report: { reason?: string | undefined; score?: number | undefined },
): Promise<void> {
  const hidden = notFound("The event was not found or you are not joined to the room");
  if ((await membershipOf(db, roomId, requester.userId)) !== "join") throw hidden;
  const row = await getEventRow(db, eventId);
  if (!row || row.room_id !== roomId) throw hidden;
  if ((await filterVisible(db, roomId, requester.userId, [row])).length === 0) throw hidden;
  await insertEventReport(db, { roomId, eventId, reporter: requester.userId, reason: report.reason ?? null, score: report.score ?? null });
}

/** POST /rooms/{roomId}/report: open to anyone, joined or not (spec v1.13), for rooms this server knows. */
export async function reportRoom(db: D1Database, requester: Requester, roomId: string, reason: string): Promise<void> {
  if (!(await getRoom(db, roomId))) throw notFound("The room was not found");
  await insertRoomReport(db, { roomId, reporter: requester.userId, reason });
}
