export interface RoomRow {
  room_id: string;
  room_version: string;
  creator: string;
  created_ts: number;
  is_public: number;
}

export function insertRoomStatement(
  db: D1Database,
  room: { roomId: string; roomVersion: string; creator: string; isPublic: boolean },
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public) VALUES (?, ?, ?, ?, ?)")
    .bind(room.roomId, room.roomVersion, room.creator, Date.now(), room.isPublic ? 1 : 0);
}

export function getRoom(db: D1Database, roomId: string): Promise<RoomRow | null> {
  return db.prepare("SELECT * FROM rooms WHERE room_id = ?").bind(roomId).first<RoomRow>();
}

/** The rooms a user is a member of with the given membership. */
export async function roomsWithMembership(db: D1Database, userId: string, membership: string): Promise<string[]> {
  const rows = await db
    .prepare("SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = ?")
    .bind(userId, membership)
    .all<{ room_id: string }>();
  return rows.results.map((r) => r.room_id);
}

export function membershipOf(db: D1Database, roomId: string, userId: string): Promise<string | null> {
  return db
    .prepare("SELECT membership FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?")
    .bind(roomId, userId)
    .first<string>("membership");
}

export async function forgetRoom(db: D1Database, userId: string, roomId: string): Promise<void> {
  await db.prepare("INSERT INTO forgotten_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(userId, roomId).run();
}

export async function unforgetRoomStatement(db: D1Database, userId: string, roomId: string): Promise<void> {
  await db.prepare("DELETE FROM forgotten_rooms WHERE user_id = ? AND room_id = ?").bind(userId, roomId).run();
}

export async function setRoomPublished(db: D1Database, roomId: string, isPublic: boolean): Promise<void> {
  await db.prepare("UPDATE rooms SET is_public = ? WHERE room_id = ?").bind(isPublic ? 1 : 0, roomId).run();
}
