import { MatrixError, invalidParam, notFound } from "../http/errors";
import {
  type BackupVersionRow,
  type RoomKeyRow,
  countRoomKeys,
  deleteBackupVersion,
  deleteRoomKeys,
  getBackupVersion,
  getRoomKeys,
  insertBackupVersion,
  putRoomKeys,
  updateBackupAuthData,
} from "../storage/key-backup";

/** Server-side key backup (Client-Server API, key_backup.yaml). Versions are decimal strings of increasing integers. */

export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: Record<string, unknown>;
}

export type RoomsKeyBackup = Record<string, { sessions: Record<string, KeyBackupData> }>;

const backupNotFound = () => notFound("Unknown backup version");

/** A version path or query parameter: a positive integer, else it can name no backup. */
function versionNumber(version: string): number | null {
  return /^[1-9]\d{0,14}$/.test(version) ? Number(version) : null;
}

async function liveVersion(db: D1Database, userId: string, version: string): Promise<BackupVersionRow> {
  const n = versionNumber(version);
  const row = n === null ? null : await getBackupVersion(db, userId, n);
  if (!row || row.deleted) throw backupNotFound();
  return row;
}

/** Writes go only to the current version: another means this client's backup was replaced. */
async function currentVersion(db: D1Database, userId: string, version: string): Promise<BackupVersionRow> {
  const row = await liveVersion(db, userId, version);
  const current = await getBackupVersion(db, userId);
  if (current && current.version !== row.version) {
    throw new MatrixError(403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version", { current_version: String(current.version) });
  }
  return row;
}

export async function createBackup(db: D1Database, userId: string, algorithm: string, authData: Record<string, unknown>): Promise<string> {
  return String(await insertBackupVersion(db, userId, algorithm, JSON.stringify(authData)));
}

/** GET /room_keys/version[/{version}]. */
export async function backupInfo(db: D1Database, userId: string, version?: string) {
  const row = version === undefined ? await getBackupVersion(db, userId) : await liveVersion(db, userId, version);
  if (!row || row.deleted) throw new MatrixError(404, "M_NOT_FOUND", "No current backup version");
  return {
    algorithm: row.algorithm,
    auth_data: JSON.parse(row.auth_data) as Record<string, unknown>,
    count: await countRoomKeys(db, userId, row.version),
    etag: String(row.etag),
    version: String(row.version),
  };
}

/** PUT /room_keys/version/{version}: only auth_data changes; the algorithm must stay. */
export async function updateBackup(
  db: D1Database,
  userId: string,
  version: string,
  body: { algorithm: string; auth_data: Record<string, unknown>; version?: string | undefined },
): Promise<void> {
  const row = await liveVersion(db, userId, version);
  if (body.version !== undefined && body.version !== version) throw invalidParam("version in the body does not match the path");
  if (body.algorithm !== row.algorithm) throw invalidParam("The algorithm of a backup version cannot change");
  await updateBackupAuthData(db, userId, row.version, JSON.stringify(body.auth_data));
}

/** DELETE /room_keys/version/{version}: deleting an already deleted version succeeds, as the spec asks. */
export async function deleteBackup(db: D1Database, userId: string, version: string): Promise<void> {
  const n = versionNumber(version);
  const row = n === null ? null : await getBackupVersion(db, userId, n);
  if (!row) throw backupNotFound();
  if (!row.deleted) await deleteBackupVersion(db, userId, row.version);
}

/** PUT /room_keys/keys[...]: stores the keys that beat the stored ones; answers the new etag and count. */
export async function storeRoomKeys(db: D1Database, userId: string, version: string, rooms: RoomsKeyBackup) {
  const row = await currentVersion(db, userId, version);
  const keys: RoomKeyRow[] = [];
  for (const [roomId, { sessions }] of Object.entries(rooms)) {
    for (const [sessionId, k] of Object.entries(sessions)) {
      keys.push({
        room_id: roomId,
        session_id: sessionId,
        first_message_index: k.first_message_index,
        forwarded_count: k.forwarded_count,
        is_verified: k.is_verified ? 1 : 0,
        session_data: JSON.stringify(k.session_data),
      });
    }
  }
  await putRoomKeys(db, userId, row.version, keys);
  return etagAndCount(db, userId, row.version);
}

async function etagAndCount(db: D1Database, userId: string, version: number) {
  const row = await getBackupVersion(db, userId, version);
  return { etag: String(row?.etag ?? 0), count: await countRoomKeys(db, userId, version) };
}

const toBackupData = (k: RoomKeyRow): KeyBackupData => ({
  first_message_index: k.first_message_index,
  forwarded_count: k.forwarded_count,
  is_verified: k.is_verified === 1,
  session_data: JSON.parse(k.session_data) as Record<string, unknown>,
});

/** GET /room_keys/keys: every room. */
export async function allRoomKeys(db: D1Database, userId: string, version: string): Promise<{ rooms: RoomsKeyBackup }> {
  const row = await liveVersion(db, userId, version);
  const rooms: RoomsKeyBackup = {};
  for (const k of await getRoomKeys(db, userId, row.version)) (rooms[k.room_id] ??= { sessions: {} }).sessions[k.session_id] = toBackupData(k);
  return { rooms };
}

/** GET /room_keys/keys/{roomId}: an unknown room is an empty one, as the spec says. */
export async function roomKeysOfRoom(db: D1Database, userId: string, version: string, roomId: string): Promise<{ sessions: Record<string, KeyBackupData> }> {
  const row = await liveVersion(db, userId, version);
  const sessions: Record<string, KeyBackupData> = {};
  for (const k of await getRoomKeys(db, userId, row.version, roomId)) sessions[k.session_id] = toBackupData(k);
  return { sessions };
}

/** GET /room_keys/keys/{roomId}/{sessionId}. */
export async function roomKeyOfSession(db: D1Database, userId: string, version: string, roomId: string, sessionId: string): Promise<KeyBackupData> {
  const row = await liveVersion(db, userId, version);
  const [key] = await getRoomKeys(db, userId, row.version, roomId, sessionId);
  if (!key) throw notFound("No key for that session in this backup");
  return toBackupData(key);
}

/** DELETE /room_keys/keys[...]. */
export async function removeRoomKeys(db: D1Database, userId: string, version: string, roomId?: string, sessionId?: string) {
  const row = await currentVersion(db, userId, version);
  await deleteRoomKeys(db, userId, row.version, roomId, sessionId);
  return etagAndCount(db, userId, row.version);
}
