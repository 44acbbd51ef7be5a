import { type EventRow, getCurrentStateRow } from "../storage/events";
import { membershipOf } from "../storage/rooms";
import { type VisibilityInputs, visibilityInputs } from "../storage/visibility";
import type { Pdu } from "../rooms/pdu";

const contentOf = (row: EventRow | null | undefined): Record<string, unknown> => (row ? (JSON.parse(row.pdu) as Pdu).content : {});

/**
 * Filters events of one room down to those `userId` may see (Client-Server API, "History visibility"):
 * world_readable events to anyone; otherwise the user's membership at the event (after it) must be join, or
 * invite for `invited` rooms; `shared` history is open to current members.
 */
export async function filterVisible(db: D1Database, roomId: string, userId: string, rows: EventRow[]): Promise<EventRow[]> {
  if (rows.length === 0) return rows;
  const ordered = [...rows].sort((a, b) => a.stream_ordering - b.stream_ordering);
  const from = ordered[0]!.stream_ordering;
  const to = ordered[ordered.length - 1]!.stream_ordering;
  const [inputs, current] = await Promise.all([visibilityInputs(db, roomId, userId, from, to), membershipOf(db, roomId, userId)]);
  const visible = visibleEventIds(inputs, current, ordered);
  return rows.filter((r) => visible.has(r.event_id));
}

/**
 * The pure part of `filterVisible`, for callers that read the inputs themselves (batched over many rooms): `before`
 * is what was in force before the first of `rows`, `changes` every visibility and own-membership change from there
 * on; `rows` must be in stream order.
 */
export function visibleEventIds({ before, changes }: VisibilityInputs, current: string | null, ordered: EventRow[]): Set<string> {
  let visibility = (contentOf(before.visibility)["history_visibility"] as string | undefined) ?? "shared";
  let membership = (contentOf(before.membership)["membership"] as string | undefined) ?? null;
  const visible = new Set<string>();
  let c = 0;
  for (const row of ordered) {
    // State changes up to and including this event apply to it.
    while (c < changes.length && changes[c]!.stream_ordering <= row.stream_ordering) {
      const change = changes[c++]!;
      if (change.type === "m.room.history_visibility") visibility = (contentOf(change)["history_visibility"] as string) ?? visibility;
      else membership = (contentOf(change)["membership"] as string) ?? membership;
    }
    if (isVisible(visibility, membership, current)) visible.add(row.event_id);
  }
  return visible;
}

function isVisible(visibility: string, membershipAtEvent: string | null, currentMembership: string | null): boolean {
  if (visibility === "world_readable") return true;
  if (membershipAtEvent === "join") return true;
  if (visibility === "shared" && currentMembership === "join") return true;
  return visibility === "invited" && membershipAtEvent === "invite";
}

/** Whether the user may read the room at all now: a member now, or a world-readable room. */
export async function canReadRoom(db: D1Database, roomId: string, userId: string): Promise<{ membership: string | null; worldReadable: boolean }> {
  const [membership, visibility] = await Promise.all([
    membershipOf(db, roomId, userId),
    getCurrentStateRow(db, roomId, "m.room.history_visibility", ""),
  ]);
  const worldReadable = contentOf(visibility)["history_visibility"] === "world_readable";
  return { membership, worldReadable };
}
