import { z } from "zod";
import { MatrixError, forbidden, invalidParam, notFound } from "../http/errors";
import { check } from "../http/validate";
import { getAccountDataContent, getAccountDataSince, putAccountData } from "../storage/account-data";
import { byteLength, parseUserId } from "./identifiers";

/** Types the server manages: readable, but never set through the account data API (405, M_BAD_JSON). */
const SERVER_MANAGED = new Set(["m.fully_read", "m.push_rules"]);
/** The spec caps tag names, and event types (PDU size limits), at 255 bytes; account data types follow suit. */
const MAX_NAME_BYTES = 255;

export interface AccountDataEvent {
  type: string;
  content: Record<string, unknown>;
}

/** Account data is private: only its owner may read or write it. */
export function assertOwnAccountData(requesterId: string, userId: string): void {
  if (requesterId !== userId) throw forbidden("Cannot access account data of other users");
}

function assertNameSize(what: string, name: string): void {
  if (byteLength(name) > MAX_NAME_BYTES) throw invalidParam(`The ${what} is over ${MAX_NAME_BYTES} bytes`);
}

/** The content of one account data entry (global when `roomId` is null), or null when unset. */
export async function findAccountData(db: D1Database, userId: string, roomId: string | null, type: string): Promise<Record<string, unknown> | null> {
  const content = await getAccountDataContent(db, userId, roomId, type);
  return content === null ? null : (JSON.parse(content) as Record<string, unknown>);
}

/** The content of one account data entry on a client's request; M_NOT_FOUND when unset. */
export async function getAccountData(db: D1Database, userId: string, roomId: string | null, type: string): Promise<Record<string, unknown>> {
  assertNameSize("type", type);
  const content = await findAccountData(db, userId, roomId, type);
  if (content === null) throw notFound("Account data not found");
  return content;
}

const IgnoredUserList = z.object({
  ignored_users: z.record(
    z.string().refine((id) => parseUserId(id) !== null, "must be a user id"),
    z.looseObject({}),
  ),
});

/** Sets account data on a client's request: server-managed types are refused and known types validated. */
export async function setAccountDataFromClient(
  db: D1Database,
  userId: string,
  roomId: string | null,
  type: string,
  content: Record<string, unknown>,
): Promise<number> {
  assertNameSize("type", type);
  if (SERVER_MANAGED.has(type)) throw new MatrixError(405, "M_BAD_JSON", `Cannot set ${type} through this API`);
  if (type === "m.ignored_user_list" && roomId === null) check(IgnoredUserList, content, "body");
  return putAccountData(db, userId, roomId, type, content);
}

/** Sets account data the server manages (m.fully_read; global m.push_rules when `roomId` is null), bypassing the client checks. */
export function setServerAccountData(db: D1Database, userId: string, roomId: string | null, type: string, content: Record<string, unknown>): Promise<number> {
  return putAccountData(db, userId, roomId, type, content);
}

/** One tag's data (the body of PUT .../tags/{tag}): `order` is a number in [0, 1]; other fields are kept. */
export const TagBody = z.looseObject({ order: z.number().min(0).max(1).optional() });
export type Tag = z.infer<typeof TagBody>;
const TagContent = z.object({ tags: z.record(z.string(), TagBody) });

/** The tags on a room: the `m.tag` room account data, `{}` when none. */
export async function getTags(db: D1Database, userId: string, roomId: string): Promise<Record<string, Tag>> {
  const parsed = TagContent.safeParse(await findAccountData(db, userId, roomId, "m.tag"));
  return parsed.success ? parsed.data.tags : {};
}

/** Adds (or replaces) one tag. Read-modify-write: only the owner's own devices write here. */
export async function setTag(db: D1Database, userId: string, roomId: string, tag: string, body: Tag): Promise<number> {
  assertNameSize("tag", tag);
  const tags = await getTags(db, userId, roomId);
  return putAccountData(db, userId, roomId, "m.tag", { tags: { ...tags, [tag]: body } });
}

/** Removes one tag; removing a tag that is not there succeeds and changes nothing. */
export async function deleteTag(db: D1Database, userId: string, roomId: string, tag: string): Promise<number | null> {
  const tags = await getTags(db, userId, roomId);
  if (!Object.hasOwn(tags, tag)) return null;
  const rest = Object.fromEntries(Object.entries(tags).filter(([name]) => name !== tag));
  return putAccountData(db, userId, roomId, "m.tag", { tags: rest });
}

/** The account data changed in (since, upTo], shaped as /sync sends it; a since of 0 gives everything. */
export async function accountDataSince(
  db: D1Database,
  userId: string,
  since: number,
  upTo: number,
): Promise<{ global: AccountDataEvent[]; rooms: Record<string, AccountDataEvent[]> }> {
  const global: AccountDataEvent[] = [];
  const rooms: Record<string, AccountDataEvent[]> = {};
  for (const row of await getAccountDataSince(db, userId, since, upTo)) {
    const event = { type: row.type, content: JSON.parse(row.content) as Record<string, unknown> };
    if (row.room_id === "") global.push(event);
    else (rooms[row.room_id] ??= []).push(event);
  }
  return { global, rooms };
}

/** The users `userId` ignores (`m.ignored_user_list`), for /sync and invites to leave out. */
export async function ignoredUsers(db: D1Database, userId: string): Promise<Set<string>> {
  const parsed = IgnoredUserList.safeParse(await findAccountData(db, userId, null, "m.ignored_user_list"));
  return new Set(parsed.success ? Object.keys(parsed.data.ignored_users) : []);
}
