import type { Config } from "../config";
import { MatrixError, forbidden, invalidParam, notFound } from "../http/errors";
import type { Requester } from "../http/types";
import { type AuthEvent, requiredPowerLevel, stateKeyOf, userPowerLevel } from "../rooms/auth-rules";
import type { Pdu } from "../rooms/pdu";
import { isSupportedRoomVersion } from "../rooms/room-versions";
import { aliasesOfRoom, deleteAlias, getAlias, insertAlias } from "../storage/aliases";
import { type DirectoryScope, type PublishedRoomRow, listPublishedRooms, setAppserviceRoomPublished } from "../storage/directory";
import { getCurrentStateRow } from "../storage/events";
import { type RoomRow, getRoom, membershipOf, setRoomPublished } from "../storage/rooms";
import { parseAlias } from "./aliases";
import { roomObject } from "./room-client";
import { canReadRoom } from "./visibility";

const CANONICAL_ALIAS = "m.room.canonical_alias";

/** The alias split into its parts, or M_INVALID_PARAM. */
function validAlias(alias: string): { localpart: string; serverName: string } {
  const parsed = parseAlias(alias);
  if (!parsed || parsed.localpart.includes("\u0000")) throw invalidParam("Room alias invalid");
  return parsed;
}

async function knownRoom(db: D1Database, roomId: string): Promise<RoomRow> {
  const room = await getRoom(db, roomId);
  if (!room) throw notFound("Room not found");
  return room;
}

/**
 * Whether the user is joined to the room with the power to send `m.room.canonical_alias`: who may manage the
 * room's aliases and its directory listing, the same people who choose the addresses the room advertises.
 */
async function canManageRoomDirectory(db: D1Database, room: RoomRow, userId: string): Promise<boolean> {
  const version = room.room_version;
  if (!isSupportedRoomVersion(version)) return false;
  const [membership, create, powerLevels] = await Promise.all([
    membershipOf(db, room.room_id, userId),
    getCurrentStateRow(db, room.room_id, "m.room.create", ""),
    getCurrentStateRow(db, room.room_id, "m.room.power_levels", ""),
  ]);
  if (membership !== "join") return false;
  const state = new Map<string, AuthEvent>();
  for (const row of [create, powerLevels]) {
    if (row) state.set(stateKeyOf(row.type, ""), { event_id: row.event_id, pdu: JSON.parse(row.pdu) as Pdu });
  }
  return userPowerLevel(version, userId, state) >= requiredPowerLevel(version, CANONICAL_ALIAS, true, state);
}

/** PUT /directory/room/{roomAlias}: only aliases on this server, only for rooms the user is joined to. */
export async function createRoomAlias(db: D1Database, config: Config, requester: Requester, alias: string, roomId: string): Promise<void> {
  if (validAlias(alias).serverName !== config.SERVER_NAME) throw invalidParam("Room alias must be on this server");
  await knownRoom(db, roomId);
  if ((await membershipOf(db, roomId, requester.userId)) !== "join") throw forbidden("You are not joined to this room");
  if (!(await insertAlias(db, alias, roomId, requester.userId))) {
    throw new MatrixError(409, "M_UNKNOWN", `Room alias ${alias} already exists`);
  }
}

/** GET /directory/room/{roomAlias}. Aliases of other servers would need federation, which this server lacks. */
export async function resolveRoomAlias(db: D1Database, config: Config, alias: string): Promise<{ room_id: string; servers: string[] }> {
  if (validAlias(alias).serverName !== config.SERVER_NAME) throw notFound(`Room alias ${alias} is on another server`);
  const row = await getAlias(db, alias);
  if (!row) throw notFound(`Room alias ${alias} not found`);
  return { room_id: row.room_id, servers: [config.SERVER_NAME] };
}

/**
 * DELETE /directory/room/{roomAlias}: by the alias's creator or whoever may manage the room's aliases. The alias
 * is also taken out of m.room.canonical_alias when the user may change it, so the room does not go on
 * advertising an alias that no longer resolves (spec: servers may choose to).
 */
export async function deleteRoomAlias(env: Env, requester: Requester, alias: string): Promise<void> {
  validAlias(alias);
  const row = await getAlias(env.DB, alias);
  if (!row) throw notFound(`Room alias ${alias} not found`);
  const room = await getRoom(env.DB, row.room_id);
  const mayManage = room !== null && (await canManageRoomDirectory(env.DB, room, requester.userId));
  if (row.creator !== requester.userId && !mayManage) throw forbidden("You may not remove this room alias");
  await deleteAlias(env.DB, alias);
  if (mayManage) await dropFromCanonicalAlias(env, requester.userId, row.room_id, alias);
}

async function dropFromCanonicalAlias(env: Env, sender: string, roomId: string, alias: string): Promise<void> {
  const current = await getCurrentStateRow(env.DB, roomId, CANONICAL_ALIAS, "");
  if (!current) return;
  const content = { ...(JSON.parse(current.pdu) as Pdu).content };
  const altAliases = Array.isArray(content["alt_aliases"]) ? (content["alt_aliases"] as unknown[]) : [];
  if (content["alias"] !== alias && !altAliases.includes(alias)) return;
  if (content["alias"] === alias) delete content["alias"];
  if (altAliases.includes(alias)) content["alt_aliases"] = altAliases.filter((a) => a !== alias);
  // Best effort: the alias is gone whatever becomes of this event.
  const sent = await roomObject(env, roomId).send(roomId, { type: CANONICAL_ALIAS, state_key: "", sender, content });
  if (!sent.ok) console.warn(`Could not update ${CANONICAL_ALIAS} of ${roomId}: ${sent.error}`);
}

/** GET /rooms/{roomId}/aliases: for joined members, or anyone when the room is world-readable. */
export async function localAliasesOf(db: D1Database, requester: Requester, roomId: string): Promise<string[]> {
  const { membership, worldReadable } = await canReadRoom(db, roomId, requester.userId);
  if (membership !== "join" && !worldReadable) throw forbidden("You are not a member of this room");
  return aliasesOfRoom(db, roomId);
}

export type DirectoryVisibility = "public" | "private";

/** GET /directory/list/room/{roomId} */
export async function directoryVisibility(db: D1Database, roomId: string): Promise<DirectoryVisibility> {
  return (await knownRoom(db, roomId)).is_public ? "public" : "private";
}

/** PUT /directory/list/room/{roomId}: for joined members who may manage the room's aliases. */
export async function setDirectoryVisibility(db: D1Database, requester: Requester, roomId: string, visibility: DirectoryVisibility): Promise<void> {
  const room = await knownRoom(db, roomId);
  if (!(await canManageRoomDirectory(db, room, requester.userId))) {
    throw forbidden("You do not have the power to change this room's directory visibility");
  }
  await setRoomPublished(db, roomId, visibility === "public");
}

/**
 * PUT /directory/list/appservice/{networkId}/{roomId}: an appservice (as_token only) publishes a room in, or
 * withdraws it from, the directory of one of its networks.
 */
export async function setAppserviceDirectoryVisibility(
  db: D1Database,
  requester: Requester,
  networkId: string,
  roomId: string,
  visibility: DirectoryVisibility,
): Promise<void> {
  if (requester.appserviceId === undefined) throw forbidden("Only application services can publish rooms in network directories");
  await knownRoom(db, roomId);
  await setAppserviceRoomPublished(db, requester.appserviceId, networkId, roomId, visibility === "public");
}

/** An appservice network: the appservice's id and the network's id within it. */
export interface AppserviceNetwork {
  appserviceId: string;
  networkId: string;
}

export interface PublicRoomsRequest {
  limit?: number;
  since?: string;
  /** The server whose directory to list: only this one, as there is no federation. */
  server?: string;
  searchTerm?: string;
  roomTypes?: (string | null)[];
  includeAllNetworks?: boolean;
  thirdPartyInstanceId?: string;
  /** The appservice network of a third-party instance id (undefined for an unknown one). */
  networkOf?: (instanceId: string) => AppserviceNetwork | undefined;
}

/** The `PublishedRoomsChunk` of the spec. */
export interface PublicRoom {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule?: string;
  name?: string;
  topic?: string;
  avatar_url?: string;
  canonical_alias?: string;
  room_type?: string;
}

export interface PublicRoomsResponse {
  chunk: PublicRoom[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
}

const DEFAULT_PUBLIC_ROOMS_LIMIT = 100;
const MAX_PUBLIC_ROOMS_LIMIT = 500;

/** Directory pagination tokens: `d<N>` is "from the N-th matching room". Clients treat them as opaque. */
const directoryToken = (offset: number) => `d${offset}`;

function parseDirectoryToken(token: string): number {
  const match = /^d(\d{1,9})$/.exec(token);
  if (!match) throw invalidParam("Invalid since token");
  return Number(match[1]);
}

/**
 * GET and POST /publicRooms: one page of this server's published rooms, most joined members first; with
 * `include_all_networks` also those of every appservice network, with `third_party_instance_id` only that network's.
 */
export async function publicRooms(db: D1Database, config: Config, request: PublicRoomsRequest): Promise<PublicRoomsResponse> {
  if (request.server !== undefined && request.server !== config.SERVER_NAME) {
    throw invalidParam("Only this server's room directory can be listed");
  }
  if (request.includeAllNetworks && request.thirdPartyInstanceId !== undefined) {
    throw invalidParam("third_party_instance_id cannot be used with include_all_networks");
  }
  let scope: DirectoryScope = { kind: request.includeAllNetworks ? "all" : "server" };
  if (request.thirdPartyInstanceId !== undefined) {
    const network = request.networkOf?.(request.thirdPartyInstanceId);
    // An instance no appservice has: its directory is empty.
    if (!network) return { chunk: [], total_room_count_estimate: 0 };
    scope = { kind: "network", ...network };
  }

  const offset = request.since === undefined ? 0 : parseDirectoryToken(request.since);
  const limit = Math.min(request.limit ?? DEFAULT_PUBLIC_ROOMS_LIMIT, MAX_PUBLIC_ROOMS_LIMIT);
  const { rows, total } = await listPublishedRooms(db, {
    scope,
    searchTerm: request.searchTerm?.trim() || null,
    roomTypes: request.roomTypes ?? null,
    offset,
    limit,
  });
  const response: PublicRoomsResponse = { chunk: rows.map(publicRoom) };
  if (total !== null) {
    response.total_room_count_estimate = total;
    if (offset + rows.length < total) response.next_batch = directoryToken(offset + rows.length);
  } else if (offset === 0) {
    response.total_room_count_estimate = 0;
  }
  if (offset > 0) response.prev_batch = directoryToken(Math.max(0, offset - limit));
  return response;
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** A directory entry; fields without a (string) value are left undefined, which the JSON response omits. */
function publicRoom(row: PublishedRoomRow): PublicRoom {
  return {
    room_id: row.room_id,
    num_joined_members: row.num_joined_members,
    world_readable: row.history_visibility === "world_readable",
    guest_can_join: row.guest_access === "can_join",
    join_rule: text(row.join_rule),
    name: text(row.name),
    topic: text(row.topic),
    avatar_url: text(row.avatar_url),
    canonical_alias: text(row.canonical_alias),
    room_type: text(row.room_type),
  };
}
