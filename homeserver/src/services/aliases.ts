import { MatrixError, notFound } from "../http/errors";
import { deleteAlias, getAlias, insertAlias } from "../storage/aliases";

/** Room aliases `#localpart:server` (appendices: "Room Aliases"): at most 255 bytes. */
export function parseAlias(alias: string): { localpart: string; serverName: string } | null {
  const colon = alias.indexOf(":");
  if (!alias.startsWith("#") || colon < 2 || new TextEncoder().encode(alias).byteLength > 255) return null;
  return { localpart: alias.slice(1, colon), serverName: alias.slice(colon + 1) };
}

export async function claimAlias(db: D1Database, alias: string, roomId: string, creator: string): Promise<void> {
  if (!parseAlias(alias)) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid room alias");
  if (!(await insertAlias(db, alias, roomId, creator))) throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
}

export const releaseAlias = deleteAlias;

/** Resolves a local alias to its room id. */
export async function resolveAlias(db: D1Database, alias: string): Promise<string> {
  if (!parseAlias(alias)) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid room alias");
  const row = await getAlias(db, alias);
  if (!row) throw notFound("Room alias not found");
  return row.room_id;
}
