import { NEXT_POSITION, commitAtNextPosition } from "./stream-positions";

/** Global account data is stored with this room id. */
const GLOBAL = "";

export interface AccountDataRow {
  /** '' for global account data. */
  room_id: string;
  type: string;
  content: string;
  stream_id: number;
}

export function getAccountDataContent(db: D1Database, userId: string, roomId: string | null, type: string): Promise<string | null> {
  return db
    .prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?")
    .bind(userId, roomId ?? GLOBAL, type)
    .first<string>("content");
}

/** Sets one account data entry at the next stream position, which it returns. */
export async function putAccountData(
  db: D1Database,
  userId: string,
  roomId: string | null,
  type: string,
  content: Record<string, unknown>,
): Promise<number> {
  const position = await commitAtNextPosition(db, [
    db
      .prepare(
        `INSERT INTO account_data (user_id, room_id, type, content, stream_id) VALUES (?, ?, ?, ?, ${NEXT_POSITION})
         ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id`,
      )
      .bind(userId, roomId ?? GLOBAL, type, JSON.stringify(content)),
  ]);
  return position!;
}

/** The user's account data entries changed in (since, upTo], oldest change first. */
export async function getAccountDataSince(db: D1Database, userId: string, since: number, upTo: number): Promise<AccountDataRow[]> {
  const rows = await db
    .prepare("SELECT room_id, type, content, stream_id FROM account_data WHERE user_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id")
    .bind(userId, since, upTo)
    .all<AccountDataRow>();
  return rows.results;
}

/** One global account data type for several users at once (push rules, ignore lists of a room's members). */
export async function getGlobalAccountDataOfUsers(
  db: D1Database,
  userIds: string[],
  types: string[],
): Promise<{ user_id: string; type: string; content: string }[]> {
  if (userIds.length === 0) return [];
  const rows = await db
    .prepare(
      `SELECT user_id, type, content FROM account_data
       WHERE room_id = '' AND user_id IN (SELECT value FROM json_each(?)) AND type IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify(userIds), JSON.stringify(types))
    .all<{ user_id: string; type: string; content: string }>();
  return rows.results;
}
