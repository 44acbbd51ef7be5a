/** A published room with the state the room directory shows, read straight out of current_state. */
export interface PublishedRoomRow {
  room_id: string;
  num_joined_members: number;
  name: unknown;
  topic: unknown;
  avatar_url: unknown;
  canonical_alias: unknown;
  join_rule: unknown;
  history_visibility: unknown;
  guest_access: unknown;
  room_type: unknown;
}

/**
 * Which directory: the server's own (rooms.is_public), that plus every appservice network's, or one appservice
 * network's (migrations/0012).
 */
export type DirectoryScope = { kind: "server" } | { kind: "all" } | { kind: "network"; appserviceId: string; networkId: string };

export interface PublishedRoomsQuery {
  scope: DirectoryScope;
  /** Matched case-insensitively (ASCII only: SQLite's lower()) against name, topic and canonical alias. */
  searchTerm: string | null;
  /** Room types to keep; `null` in the list keeps rooms without a type. Null: all rooms. */
  roomTypes: (string | null)[] | null;
  offset: number;
  limit: number;
}

/** Column, state event type and content path of each directory field (all from state with an empty state key). */
const STATE_FIELDS = [
  ["name", "m.room.name", "$.content.name"],
  ["topic", "m.room.topic", "$.content.topic"],
  ["avatar_url", "m.room.avatar", "$.content.url"],
  ["canonical_alias", "m.room.canonical_alias", "$.content.alias"],
  ["join_rule", "m.room.join_rules", "$.content.join_rule"],
  ["history_visibility", "m.room.history_visibility", "$.content.history_visibility"],
  ["guest_access", "m.room.guest_access", "$.content.guest_access"],
  ["room_type", "m.room.create", "$.content.type"],
] as const;

const SCOPES: Record<DirectoryScope["kind"], string> = {
  server: "r.is_public = 1",
  all: "(r.is_public = 1 OR r.room_id IN (SELECT room_id FROM appservice_room_directory))",
  network: "r.room_id IN (SELECT room_id FROM appservice_room_directory WHERE appservice_id = ?5 AND network_id = ?6)",
};

// Each field is one primary-key lookup in current_state and one in events; the member count scans only the
// room's m.room.member rows. Built from the constant tables above, never from input.
const publishedRoomsQuery = (scope: DirectoryScope["kind"]) => `
  WITH published AS (
    SELECT r.room_id,
      (SELECT COUNT(*) FROM current_state m
        WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND m.membership = 'join') AS num_joined_members,
      ${STATE_FIELDS.map(([column, , path]) => `json_extract(e_${column}.pdu, '${path}') AS ${column}`).join(",\n      ")}
    FROM rooms r
    ${STATE_FIELDS.map(
      ([column, type]) =>
        `LEFT JOIN current_state s_${column} ON s_${column}.room_id = r.room_id AND s_${column}.type = '${type}' AND s_${column}.state_key = ''
    LEFT JOIN events e_${column} ON e_${column}.event_id = s_${column}.event_id`,
    ).join("\n    ")}
    WHERE ${SCOPES[scope]}
  )
  SELECT *, COUNT(*) OVER () AS total FROM published
  WHERE (?1 IS NULL
         OR instr(lower(name), lower(?1)) > 0 OR instr(lower(topic), lower(?1)) > 0 OR instr(lower(canonical_alias), lower(?1)) > 0)
    AND (?2 IS NULL
         OR (room_type IS NULL AND EXISTS (SELECT 1 FROM json_each(?2) WHERE type = 'null'))
         OR room_type IN (SELECT value FROM json_each(?2) WHERE type = 'text'))
  ORDER BY num_joined_members DESC, room_id ASC
  LIMIT ?3 OFFSET ?4`;

const PUBLISHED_ROOMS = {
  server: publishedRoomsQuery("server"),
  all: publishedRoomsQuery("all"),
  network: publishedRoomsQuery("network"),
};

/**
 * One page of the published rooms, most joined members first (then by room id, for a stable order), and how many
 * rooms match in all (null when the page is empty, as the count rides along with the rows).
 */
export async function listPublishedRooms(
  db: D1Database,
  query: PublishedRoomsQuery,
): Promise<{ rows: PublishedRoomRow[]; total: number | null }> {
  const roomTypes = query.roomTypes === null ? null : JSON.stringify(query.roomTypes);
  const network = query.scope.kind === "network" ? [query.scope.appserviceId, query.scope.networkId] : [];
  const result = await db
    .prepare(PUBLISHED_ROOMS[query.scope.kind])
    .bind(query.searchTerm, roomTypes, query.limit, query.offset, ...network)
    .all<PublishedRoomRow & { total: number }>();
  const rows = result.results;
  return { rows, total: rows[0]?.total ?? null };
}

/** Publishes (or withdraws) a room in an appservice network's directory. */
export async function setAppserviceRoomPublished(db: D1Database, appserviceId: string, networkId: string, roomId: string, published: boolean): Promise<void> {
  const statement = published
    ? "INSERT OR IGNORE INTO appservice_room_directory (appservice_id, network_id, room_id) VALUES (?, ?, ?)"
    : "DELETE FROM appservice_room_directory WHERE appservice_id = ? AND network_id = ? AND room_id = ?";
  await db.prepare(statement).bind(appserviceId, networkId, roomId).run();
}
