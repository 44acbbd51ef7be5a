/** Stores a filter definition (JSON text) for a user; returns its id. */
export async function insertFilter(db: D1Database, userId: string, definition: string): Promise<number> {
  const result = await db
    .prepare("INSERT INTO user_filters (user_id, definition, created_ts) VALUES (?, ?, ?)")
    .bind(userId, definition, Date.now())
    .run();
  return result.meta.last_row_id;
}

/** A user's filter definition by id, or null (ids of other users' filters are not found either). */
export function getFilterDefinition(db: D1Database, userId: string, filterId: number): Promise<string | null> {
  return db.prepare("SELECT definition FROM user_filters WHERE filter_id = ? AND user_id = ?").bind(filterId, userId).first<string>("definition");
}
