/**
 * Sliding sync (MSC4186) reads and connection state (migrations/0010). The room list reads no event bodies: one row
 * per membership with index probes for its activity, so ordering 1,000 rooms costs 1,000 small rows, not timelines.
 */

/** One room of the user's list: their membership and where the room stands. */
export interface ListRoomRow {
  room_id: string;
  membership: string;
  event_id: string;
  /** The position of the user's own member event. */
  member_ordering: number;
  /** The room's latest event for a joined room; the user's member event otherwise (nothing later may leak). */
  activity: number;
  /** Who sent the user's member event (kicks, bans, invites), null for joins. */
  member_sender: string | null;
  /** The membership before a leave or ban (from the member event's prev_content). */
  prev_membership: string | null;
  /** The create event's `type` (only read when a filter needs it). */
  room_type: string | null;
  /** 1 when the room has m.room.encryption (only read when a filter needs it). */
  encrypted: number | null;
}

export interface ListSnapshot {
  position: { events: number; shared: number };
  rooms: ListRoomRow[];
}

/**
 * Where the streams stand and the user's rooms at that moment, in one batch (one transaction). `withRoomType` and
 * `withEncryption` add a probe per room only when a list filters on them; without `withRooms` (a connection with no
 * lists or subscriptions, like Element X's encryption loop) only the positions are read.
 */
export async function getListSnapshot(
  db: D1Database,
  userId: string,
  opts: { withRooms: boolean; withRoomType: boolean; withEncryption: boolean },
): Promise<ListSnapshot> {
  const roomType = opts.withRoomType
    ? `(SELECT json_extract(e.pdu, '$.content.type') FROM current_state s JOIN events e ON e.event_id = s.event_id
        WHERE s.room_id = c.room_id AND s.type = 'm.room.create' AND s.state_key = '')`
    : "NULL";
  const encrypted = opts.withEncryption
    ? `EXISTS (SELECT 1 FROM current_state s WHERE s.room_id = c.room_id AND s.type = 'm.room.encryption' AND s.state_key = '')`
    : "NULL";
  const [events, shared, rooms] = await db.batch([
    db.prepare("SELECT MAX(stream_ordering) AS p FROM events"),
    db.prepare("SELECT position AS p FROM stream_positions WHERE stream = 'shared'"),
    db
      .prepare(
        `SELECT c.room_id, c.membership, c.event_id, c.stream_ordering AS member_ordering,
           CASE WHEN c.membership = 'join' THEN (SELECT MAX(e.stream_ordering) FROM events e WHERE e.room_id = c.room_id)
                ELSE c.stream_ordering END AS activity,
           CASE WHEN c.membership = 'join' THEN NULL ELSE (SELECT e.sender FROM events e WHERE e.event_id = c.event_id) END AS member_sender,
           CASE WHEN c.membership IN ('leave', 'ban')
                THEN (SELECT json_extract(e.unsigned, '$.prev_content.membership') FROM events e WHERE e.event_id = c.event_id) END AS prev_membership,
           ${roomType} AS room_type,
           ${encrypted} AS encrypted
         FROM current_state c
         WHERE ?2 AND c.type = 'm.room.member' AND c.state_key = ?1 AND c.membership IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM forgotten_rooms f WHERE f.user_id = ?1 AND f.room_id = c.room_id)`,
      )
      .bind(userId, opts.withRooms ? 1 : 0),
  ]);
  const positionOf = (result: D1Result | undefined) => (result?.results[0] as { p: number | null } | undefined)?.p ?? 0;
  return { position: { events: positionOf(events), shared: positionOf(shared) }, rooms: rooms!.results as ListRoomRow[] };
}

/** The rooms each of `spaceIds` lists as children (m.space.child with a non-empty `via`). */
export async function getSpaceChildren(db: D1Database, spaceIds: string[]): Promise<Map<string, Set<string>>> {
  const children = new Map<string, Set<string>>();
  if (spaceIds.length === 0) return children;
  const rows = await db
    .prepare(
      `SELECT c.room_id AS space, c.state_key AS child FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id IN (SELECT value FROM json_each(?)) AND c.type = 'm.space.child'
         AND json_array_length(json_extract(e.pdu, '$.content.via')) > 0`,
    )
    .bind(JSON.stringify(spaceIds))
    .all<{ space: string; child: string }>();
  for (const row of rows.results) {
    const set = children.get(row.space) ?? new Set<string>();
    children.set(row.space, set.add(row.child));
  }
  return children;
}

/** The rooms the user has tagged, with their tag names. */
export async function getRoomTags(db: D1Database, userId: string): Promise<Map<string, string[]>> {
  const rows = await db
    .prepare("SELECT room_id, content FROM account_data WHERE user_id = ? AND type = 'm.tag' AND room_id != ''")
    .bind(userId)
    .all<{ room_id: string; content: string }>();
  const tags = new Map<string, string[]>();
  for (const row of rows.results) {
    const content = JSON.parse(row.content) as { tags?: unknown };
    if (content.tags && typeof content.tags === "object") tags.set(row.room_id, Object.keys(content.tags));
  }
  return tags;
}

/** Events whose type marks "proper" activity in a room (MSC4186 `bump_stamp`). */
export const BUMP_TYPES = ["m.room.create", "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite", "m.poll.start", "m.beacon_info"];

/** The latest bump event of a room at or before `upTo`: walks the room's index backwards until one is found. */
export function bumpStampStatement(db: D1Database, roomId: string, upTo: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT stream_ordering AS p FROM events WHERE room_id = ? AND stream_ordering <= ?
         AND type IN (${BUMP_TYPES.map(() => "?").join(", ")})
       ORDER BY stream_ordering DESC LIMIT 1`,
    )
    .bind(roomId, upTo, ...BUMP_TYPES);
}

/** The current state entries that changed in (since, upTo]: a range of the room's new events, not its whole state. */
export function changedStateStatement(db: D1Database, roomId: string, since: number, upTo: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT e.* FROM events e
       JOIN current_state c ON c.room_id = e.room_id AND c.type = e.type AND c.state_key = e.state_key AND c.event_id = e.event_id
       WHERE e.room_id = ? AND e.stream_ordering > ? AND e.stream_ordering <= ? AND e.state_key IS NOT NULL
       ORDER BY e.stream_ordering`,
    )
    .bind(roomId, since, upTo);
}

/**
 * What to read of a room's current state: every type (with every member, or only the members named), or some types,
 * each whole (null) or some of its state keys.
 */
export type StateSelector = { all: true; members: Set<string> | null } | { all: false; types: Map<string, Set<string> | null> };

/** D1 binds at most 100 parameters per statement; past this a selector reads the whole state instead. */
const MAX_SELECTOR_PARAMS = 90;

/** The current state entries a selector names, through the (room_id, type, state_key) primary key. */
export function currentStateStatement(db: D1Database, roomId: string, selector: StateSelector): D1PreparedStatement {
  const base = "SELECT e.* FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ?";
  if (selector.all) {
    const members = selector.members;
    if (members === null || members.size + 1 > MAX_SELECTOR_PARAMS) return db.prepare(base).bind(roomId);
    const keys = [...members];
    const named = keys.length === 0 ? "0" : `c.state_key IN (${keys.map(() => "?").join(", ")})`;
    return db.prepare(`${base} AND (c.type != 'm.room.member' OR ${named})`).bind(roomId, ...keys);
  }
  const clauses: string[] = [];
  const params: unknown[] = [roomId];
  for (const [type, keys] of selector.types) {
    if (keys === null) {
      clauses.push("c.type = ?");
      params.push(type);
    } else if (keys.size > 0) {
      clauses.push(`(c.type = ? AND c.state_key IN (${[...keys].map(() => "?").join(", ")}))`);
      params.push(type, ...keys);
    }
  }
  if (clauses.length === 0) return db.prepare(`${base} AND 0`).bind(roomId);
  if (params.length > MAX_SELECTOR_PARAMS) return db.prepare(base).bind(roomId);
  return db.prepare(`${base} AND (${clauses.join(" OR ")})`).bind(...params);
}

// --- Connection state -------------------------------------------------------------------------------------------

export interface ConnectionRow {
  conn_key: number;
  generation: number;
  sticky: string;
  prev_sticky: string | null;
  last_used_ts: number;
}

export interface SentRoomRow {
  room_id: string;
  sent_events: number;
  timeline_limit: number;
  required_state: string;
}

export function getConnection(db: D1Database, userId: string, deviceId: string, connId: string): Promise<ConnectionRow | null> {
  return db
    .prepare("SELECT conn_key, generation, sticky, prev_sticky, last_used_ts FROM sliding_sync_connections WHERE user_id = ? AND device_id = ? AND conn_id = ?")
    .bind(userId, deviceId, connId)
    .first<ConnectionRow>();
}

/** Starts (or restarts) a connection: what an earlier one with the same conn_id sent is forgotten. */
export async function createConnection(
  db: D1Database,
  conn: { userId: string; deviceId: string; connId: string; generation: number; now: number; requestId: string },
): Promise<number> {
  const [, , created] = await db.batch<{ conn_key: number }>([
    db
      .prepare(
        `DELETE FROM sliding_sync_rooms WHERE conn_key IN
           (SELECT conn_key FROM sliding_sync_connections WHERE user_id = ? AND device_id = ? AND conn_id = ?)`,
      )
      .bind(conn.userId, conn.deviceId, conn.connId),
    db.prepare("DELETE FROM sliding_sync_connections WHERE user_id = ? AND device_id = ? AND conn_id = ?").bind(conn.userId, conn.deviceId, conn.connId),
    db
      .prepare(
        `INSERT INTO sliding_sync_connections (user_id, device_id, conn_id, generation, sticky, prev_sticky, last_used_ts, active_request)
         VALUES (?, ?, ?, ?, '{}', NULL, ?, ?) RETURNING conn_key`,
      )
      .bind(conn.userId, conn.deviceId, conn.connId, conn.generation, conn.now, conn.requestId),
  ]);
  return created!.results[0]!.conn_key;
}

/** Idle connections forgotten per new connection: a bounded sweep, so no request pays for a backlog. */
const SWEEP_LIMIT = 20;
/** Connections a device may hold; starting another forgets its least recently used (MSC4186 "Security"). */
const MAX_CONNECTIONS_PER_DEVICE = 10;

/**
 * Forgets up to SWEEP_LIMIT connections (of anyone) idle since before `idleBefore`, and the device's connections
 * beyond its allowance, least recently used first.
 */
export async function sweepConnections(db: D1Database, userId: string, deviceId: string, idleBefore: number): Promise<void> {
  const doomed = `SELECT conn_key FROM sliding_sync_connections WHERE last_used_ts < ?1
                  UNION ALL
                  SELECT conn_key FROM (SELECT conn_key FROM sliding_sync_connections WHERE user_id = ?2 AND device_id = ?3
                                        ORDER BY last_used_ts DESC LIMIT -1 OFFSET ?4)`;
  const keys = await db.prepare(`SELECT conn_key FROM (${doomed}) LIMIT ?5`).bind(idleBefore, userId, deviceId, MAX_CONNECTIONS_PER_DEVICE - 1, SWEEP_LIMIT * 2).all<{ conn_key: number }>();
  if (keys.results.length === 0) return;
  const list = JSON.stringify(keys.results.map((k) => k.conn_key));
  await db.batch([
    db.prepare("DELETE FROM sliding_sync_rooms WHERE conn_key IN (SELECT value FROM json_each(?))").bind(list),
    db.prepare("DELETE FROM sliding_sync_connections WHERE conn_key IN (SELECT value FROM json_each(?))").bind(list),
  ]);
}

export async function deleteConnection(db: D1Database, connKey: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM sliding_sync_rooms WHERE conn_key = ?").bind(connKey),
    db.prepare("DELETE FROM sliding_sync_connections WHERE conn_key = ?").bind(connKey),
  ]);
}

/**
 * The client confirmed `generation`: drops rows of any later (unconfirmed) one and the rows those at `generation`
 * superseded, marks `requestId` as the connection's newest request, then reads what the connection has sent. The
 * clean-up touches only rooms of the last two responses.
 */
export async function settleAndReadSentRooms(db: D1Database, connKey: number, generation: number, requestId: string): Promise<SentRoomRow[]> {
  const [, , , rows] = await db.batch<SentRoomRow>([
    db.prepare("UPDATE sliding_sync_connections SET active_request = ? WHERE conn_key = ?").bind(requestId, connKey),
    db.prepare("DELETE FROM sliding_sync_rooms WHERE conn_key = ? AND generation > ?").bind(connKey, generation),
    db
      .prepare(
        `DELETE FROM sliding_sync_rooms WHERE conn_key = ?1 AND generation < ?2
           AND room_id IN (SELECT room_id FROM sliding_sync_rooms WHERE conn_key = ?1 AND generation = ?2)`,
      )
      .bind(connKey, generation),
    db.prepare("SELECT room_id, sent_events, timeline_limit, required_state FROM sliding_sync_rooms WHERE conn_key = ?").bind(connKey),
  ]);
  return rows!.results;
}

/**
 * Records a response: its generation, sticky parameters and the rooms it sent, all in one transaction and only if
 * `requestId` is still the connection's newest request. False means a newer request came (the client cancelled this
 * one, or sent two at once): nothing was written.
 */
export async function saveResponse(
  db: D1Database,
  connKey: number,
  update: { requestId: string; generation: number; sticky: string; prevSticky: string | null; now: number; rooms: SentRoomRow[] },
): Promise<boolean> {
  const [, updated] = await db.batch([
    // One statement for all rooms: a statement per room would count against the Worker's query budget.
    db
      .prepare(
        `INSERT OR REPLACE INTO sliding_sync_rooms (conn_key, room_id, generation, sent_events, timeline_limit, required_state)
         SELECT ?1, json_extract(value, '$.room_id'), ?2, json_extract(value, '$.sent_events'),
                json_extract(value, '$.timeline_limit'), json_extract(value, '$.required_state')
         FROM json_each(?3)
         WHERE EXISTS (SELECT 1 FROM sliding_sync_connections WHERE conn_key = ?1 AND active_request = ?4)`,
      )
      .bind(connKey, update.generation, JSON.stringify(update.rooms), update.requestId),
    db
      .prepare("UPDATE sliding_sync_connections SET generation = ?, sticky = ?, prev_sticky = ?, last_used_ts = ? WHERE conn_key = ? AND active_request = ?")
      .bind(update.generation, update.sticky, update.prevSticky, update.now, connKey, update.requestId),
  ]);
  return (updated?.meta.changes ?? 0) > 0;
}
