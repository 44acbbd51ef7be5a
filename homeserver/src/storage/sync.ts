/** A user's membership in a room and the position of the member event that set it. */
export interface MembershipRow {
  room_id: string;
  membership: string;
  event_id: string;
  stream_ordering: number;
}

/**
 * Where every stream stands, and the user's memberships (no event bodies, forgotten rooms left out) at that moment:
 * one batch, so one transaction, so a membership never comes from after the positions a sync reports.
 */
export async function getSyncSnapshot(
  db: D1Database,
  userId: string,
): Promise<{ position: { events: number; shared: number }; memberships: MembershipRow[] }> {
  const [events, shared, memberships] = await db.batch([
    db.prepare("SELECT MAX(stream_ordering) AS p FROM events"),
    db.prepare("SELECT position AS p FROM stream_positions WHERE stream = 'shared'"),
    db
      .prepare(
        `SELECT c.room_id, c.membership, c.event_id, c.stream_ordering FROM current_state c
         WHERE c.type = 'm.room.member' AND c.state_key = ?1 AND c.membership IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = ?1 AND f.room_id = c.room_id)`,
      )
      .bind(userId),
  ]);
  const positionOf = (result: D1Result | undefined) => (result?.results[0] as { p: number | null } | undefined)?.p ?? 0;
  return {
    position: { events: positionOf(events), shared: positionOf(shared) },
    memberships: memberships!.results as MembershipRow[],
  };
}

/**
 * The user's joined rooms with events in (since, upTo]. SQLite plans it as the user's joined rooms from their
 * membership index, then one range probe per room on events(room_id, stream_ordering): no room history is scanned,
 * so an incremental sync's cost follows the user's rooms and the new events, not the size of the server.
 */
export async function getJoinedRoomsWithNewEvents(db: D1Database, userId: string, since: number, upTo: number): Promise<string[]> {
  const rows = await db
    .prepare(
      `SELECT DISTINCT room_id FROM events
       WHERE stream_ordering > ?2 AND stream_ordering <= ?3
         AND room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ?1 AND membership = 'join')`,
    )
    .bind(userId, since, upTo)
    .all<{ room_id: string }>();
  return rows.results.map((r) => r.room_id);
}

export interface MemberSummaryRows {
  joined: number;
  invited: number;
  /** The first other members: joined or invited first, then by the order of their member events. */
  heroes: { user_id: string; membership: string }[];
}

/**
 * Member counts and hero candidates of several rooms: two statements for all of them, in one batch. Each walks the
 * rooms' member entries by key (CROSS JOIN keeps SQLite from starting anywhere but the room list).
 */
export async function getMemberSummaries(
  db: D1Database,
  roomIds: string[],
  userId: string,
  heroLimit: number,
): Promise<Map<string, MemberSummaryRows>> {
  if (roomIds.length === 0) return new Map();
  const rooms = JSON.stringify(roomIds);
  const [counts, heroes] = await db.batch([
    db
      .prepare(
        `SELECT c.room_id, c.membership, COUNT(*) AS n
         FROM json_each(?1) j CROSS JOIN current_state c ON c.room_id = j.value AND c.type = 'm.room.member'
         WHERE c.membership IN ('join', 'invite') GROUP BY c.room_id, c.membership`,
      )
      .bind(rooms),
    db
      .prepare(
        `SELECT room_id, user_id, membership FROM (
           SELECT c.room_id, c.state_key AS user_id, c.membership,
                  ROW_NUMBER() OVER (PARTITION BY c.room_id ORDER BY c.membership NOT IN ('join', 'invite'), c.stream_ordering) AS n
           FROM json_each(?1) j CROSS JOIN current_state c ON c.room_id = j.value AND c.type = 'm.room.member'
           WHERE c.state_key != ?2
         ) WHERE n <= ?3 ORDER BY room_id, n`,
      )
      .bind(rooms, userId, heroLimit),
  ]);
  const summaries = new Map<string, MemberSummaryRows>(roomIds.map((roomId) => [roomId, { joined: 0, invited: 0, heroes: [] }]));
  for (const row of counts!.results as { room_id: string; membership: string; n: number }[]) {
    const summary = summaries.get(row.room_id)!;
    if (row.membership === "join") summary.joined = row.n;
    else summary.invited = row.n;
  }
  for (const row of heroes!.results as { room_id: string; user_id: string; membership: string }[]) {
    summaries.get(row.room_id)!.heroes.push({ user_id: row.user_id, membership: row.membership });
  }
  return summaries;
}

/** The users joined to a room now (whom a receipt or typing change in it concerns). */
export async function getJoinedMembers(db: D1Database, roomId: string): Promise<string[]> {
  const rows = await db
    .prepare("SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'")
    .bind(roomId)
    .all<{ state_key: string }>();
  return rows.results.map((r) => r.state_key);
}

/** Statements per D1 batch when a sync reads many rooms at once: one round trip per chunk, not per room. */
const BATCH_CHUNK = 200;

/** Runs statements in as few batches as the chunk size allows; results come back in the statements' order. */
export async function runBatched(db: D1Database, statements: D1PreparedStatement[]): Promise<D1Result[]> {
  const chunks: D1PreparedStatement[][] = [];
  for (let i = 0; i < statements.length; i += BATCH_CHUNK) chunks.push(statements.slice(i, i + BATCH_CHUNK));
  return (await Promise.all(chunks.map((chunk) => db.batch(chunk)))).flat();
}
