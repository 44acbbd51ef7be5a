import type { EventRow } from "./events";

/**
 * The history-visibility and membership changes of one user in a room between two stream orderings (inclusive),
 * plus the values in force just before `from`: what visibility checks over a window need, in three reads.
 */
export async function visibilityInputs(
  db: D1Database,
  roomId: string,
  userId: string,
  from: number,
  to: number,
): Promise<VisibilityInputs> {
  return visibilityInputsOf(await db.batch<EventRow>(visibilityInputStatements(db, roomId, userId, from, to)));
}

export interface VisibilityInputs {
  before: { visibility: EventRow | null; membership: EventRow | null };
  changes: EventRow[];
}

/** The three statements of `visibilityInputs`, for callers that batch them with other rooms' (sync). */
export function visibilityInputStatements(db: D1Database, roomId: string, userId: string, from: number, to: number): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `SELECT * FROM events WHERE room_id = ? AND type = 'm.room.history_visibility' AND state_key = '' AND stream_ordering < ?
         ORDER BY stream_ordering DESC LIMIT 1`,
      )
      .bind(roomId, from),
    db
      .prepare(
        `SELECT * FROM events WHERE room_id = ? AND type = 'm.room.member' AND state_key = ? AND stream_ordering < ?
         ORDER BY stream_ordering DESC LIMIT 1`,
      )
      .bind(roomId, userId, from),
    db
      .prepare(
        `SELECT * FROM events WHERE room_id = ?1 AND stream_ordering BETWEEN ?3 AND ?4
           AND ((type = 'm.room.history_visibility' AND state_key = '') OR (type = 'm.room.member' AND state_key = ?2))
         ORDER BY stream_ordering`,
      )
      .bind(roomId, userId, from, to),
  ];
}

/** Reads the results of the `visibilityInputStatements`, in their order. */
export function visibilityInputsOf([visibility, membership, changes]: D1Result<EventRow>[]): VisibilityInputs {
  return {
    before: { visibility: visibility!.results[0] ?? null, membership: membership!.results[0] ?? null },
    changes: changes!.results,
  };
}
