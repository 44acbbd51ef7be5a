import type { EventRow } from "./events";

/**
 * The history-visibility and membership changes of one user in a room between two stream orderings (inclusive),
 * plus the values in force just before `from`: what visibility checks over a window need, in one read.
 */
export async function visibilityInputs(
  db: D1Database,
  roomId: string,
  userId: string,
  from: number,
  to: number,
): Promise<VisibilityInputs> {
  return visibilityInputsOf(await visibilityInputStatement(db, roomId, userId, from, to).all<VisibilityRow>());
}

export interface VisibilityInputs {
  before: { visibility: EventRow | null; membership: EventRow | null };
  changes: EventRow[];
}

/** A row of the statement below: `part` 0 is the visibility before `from`, 1 the membership before it, 2 a change. */
export type VisibilityRow = EventRow & { part: 0 | 1 | 2 };

/**
 * The statement of `visibilityInputs`, for callers that batch it with other rooms' (sync): three index probes of
 * the room's events in one statement, told apart by `part`.
 */
export function visibilityInputStatement(db: D1Database, roomId: string, userId: string, from: number, to: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT 0 AS part, * FROM (
         SELECT * FROM events WHERE room_id = ?1 AND type = 'm.room.history_visibility' AND state_key = '' AND stream_ordering < ?3
         ORDER BY stream_ordering DESC LIMIT 1)
       UNION ALL
       SELECT 1 AS part, * FROM (
         SELECT * FROM events WHERE room_id = ?1 AND type = 'm.room.member' AND state_key = ?2 AND stream_ordering < ?3
         ORDER BY stream_ordering DESC LIMIT 1)
       UNION ALL
       SELECT 2 AS part, * FROM events WHERE room_id = ?1 AND stream_ordering BETWEEN ?3 AND ?4
         AND ((type = 'm.room.history_visibility' AND state_key = '') OR (type = 'm.room.member' AND state_key = ?2))
       ORDER BY part, stream_ordering`,
    )
    .bind(roomId, userId, from, to);
}

/** Reads the result of `visibilityInputStatement`. */
export function visibilityInputsOf(result: D1Result<VisibilityRow>): VisibilityInputs {
  const inputs: VisibilityInputs = { before: { visibility: null, membership: null }, changes: [] };
  for (const { part, ...row } of result.results) {
    if (part === 0) inputs.before.visibility = row;
    else if (part === 1) inputs.before.membership = row;
    else inputs.changes.push(row);
  }
  return inputs;
}
