/**
 * The shared stream counter of account data, receipts and typing (see migrations/0003). A change is committed as one
 * D1 batch: first the counter is bumped, then the change's statements read the new value through `NEXT_POSITION`.
 */

/** SQL for the position just taken, to use as `stream_id` in the statements that follow the bump in one batch. */
export const NEXT_POSITION = "(SELECT position FROM stream_positions WHERE stream = 'shared')";

/** A condition under which the change happens at all; the change's own statements must test the same thing. */
export interface PositionCondition {
  sql: string;
  params: unknown[];
}

/**
 * Commits `statements` after taking the next position (only when `when` holds), in one transaction.
 * Returns the position taken, or null if `when` did not hold (then the statements must change nothing).
 */
export async function commitAtNextPosition(
  db: D1Database,
  statements: D1PreparedStatement[],
  when?: PositionCondition,
): Promise<number | null> {
  const bump = db
    .prepare(`UPDATE stream_positions SET position = position + 1 WHERE stream = 'shared'${when ? ` AND ${when.sql}` : ""} RETURNING position`)
    .bind(...(when?.params ?? []));
  const [bumped] = await db.batch<{ position: number }>([bump, ...statements]);
  return bumped?.results[0]?.position ?? null;
}

/** The latest position taken: every change at or below it is committed. */
export async function currentStreamPosition(db: D1Database): Promise<number> {
  return (await db.prepare("SELECT position FROM stream_positions WHERE stream = 'shared'").first<number>("position")) ?? 0;
}
