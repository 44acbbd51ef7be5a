/** Inserts an alias; false when it is already taken. */
export async function insertAlias(db: D1Database, alias: string, roomId: string, creator: string): Promise<boolean> {
  const r = await db
    .prepare("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .bind(alias, roomId, creator, Date.now())
    .run();
  return r.meta.changes > 0;
}

export function getAlias(db: D1Database, alias: string): Promise<{ room_id: string; creator: string } | null> {
  return db.prepare("SELECT room_id, creator FROM room_aliases WHERE alias = ?").bind(alias).first();
}

export async function deleteAlias(db: D1Database, alias: string): Promise<void> {
  await db.prepare("DELETE FROM room_aliases WHERE alias = ?").bind(alias).run();
}

export async function aliasesOfRoom(db: D1Database, roomId: string): Promise<string[]> {
  const rows = await db.prepare("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias").bind(roomId).all<{ alias: string }>();
  return rows.results.map((r) => r.alias);
}
