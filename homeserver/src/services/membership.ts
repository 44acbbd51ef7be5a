import { MatrixError, forbidden } from "../http/errors";
import type { Requester } from "../http/types";
import type { EventTemplate } from "../rooms/event-builder";
import type { SentEvent } from "../rooms/room-object";
import { getProfile } from "../storage/profiles";
import { forgetRoom, membershipOf } from "../storage/rooms";
import { parseUserId } from "./identifiers";
import { restrictedJoinAuthoriser } from "./restricted-join";
import { roomObject, unwrap } from "./room-client";

export type MembershipAction = "invite" | "kick" | "ban" | "unban";

const MEMBERSHIP_OF_ACTION: Record<MembershipAction, string> = { invite: "invite", kick: "leave", ban: "ban", unban: "leave" };

/** Sends an m.room.member event through the room's RoomObject. */
async function sendMember(env: Env, roomId: string, sender: string, target: string, content: Record<string, unknown>): Promise<SentEvent> {
  const template: EventTemplate = { type: "m.room.member", state_key: target, sender, content };
  return unwrap(await roomObject(env, roomId).send(roomId, template));
}

function withReason(content: Record<string, unknown>, reason: string | undefined): Record<string, unknown> {
  return reason === undefined ? content : { ...content, reason };
}

/** Joins (or re-joins) a room, with the user's profile in the member event. */
export async function joinRoom(env: Env, requester: Requester, roomId: string, reason?: string): Promise<void> {
  const profile = await getProfile(env.DB, requester.userId);
  const content: Record<string, unknown> = { membership: "join" };
  if (profile?.displayname) content["displayname"] = profile.displayname;
  if (profile?.avatar_url) content["avatar_url"] = profile.avatar_url;
  const authoriser = await restrictedJoinAuthoriser(env.DB, roomId, requester.userId);
  if (authoriser) content["join_authorised_via_users_server"] = authoriser;
  await sendMember(env, roomId, requester.userId, requester.userId, withReason(content, reason));
}

export async function knockRoom(env: Env, requester: Requester, roomId: string, reason?: string): Promise<void> {
  await sendMember(env, roomId, requester.userId, requester.userId, withReason({ membership: "knock" }, reason));
}

/** Leaves a room, rejects an invite, or withdraws a knock. */
export async function leaveRoom(env: Env, requester: Requester, roomId: string, reason?: string): Promise<void> {
  const membership = await membershipOf(env.DB, roomId, requester.userId);
  if (membership === null || membership === "leave") throw forbidden("You are not a member of this room");
  if (membership === "ban") throw forbidden("You are banned from this room");
  await sendMember(env, roomId, requester.userId, requester.userId, withReason({ membership: "leave" }, reason));
}

/** invite, kick, ban and unban: one user acting on another's membership; the auth rules decide. */
export async function actOnMember(
  env: Env,
  requester: Requester,
  roomId: string,
  action: MembershipAction,
  target: string,
  extra: { reason?: string; is_direct?: boolean } = {},
): Promise<void> {
  if (!parseUserId(target)) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid user id");
  const current = await membershipOf(env.DB, roomId, target);
  if (action === "kick" && current !== "join" && current !== "invite" && current !== "knock") {
    throw forbidden("The user is not in the room");
  }
  if (action === "unban" && current !== "ban") throw forbidden("The user is not banned");
  if (action === "invite" && current === "join") throw forbidden("The user is already in the room");
  if (action === "invite" && current === "ban") throw forbidden("The user is banned from the room");
  const content: Record<string, unknown> = { membership: MEMBERSHIP_OF_ACTION[action] };
  if (action === "invite") {
    const profile = await getProfile(env.DB, target);
    if (profile?.displayname) content["displayname"] = profile.displayname;
    if (profile?.avatar_url) content["avatar_url"] = profile.avatar_url;
    if (extra.is_direct) content["is_direct"] = true;
  }
  await sendMember(env, roomId, requester.userId, target, withReason(content, extra.reason));
}

/** Forgets a room the user has left (spec: "Leaving rooms"); a joined or invited user must leave first. */
export async function forget(env: Env, requester: Requester, roomId: string): Promise<void> {
  const membership = await membershipOf(env.DB, roomId, requester.userId);
  if (membership === null) throw new MatrixError(404, "M_NOT_FOUND", "You have never been in this room");
  if (membership === "join" || membership === "invite" || membership === "knock") {
    throw new MatrixError(400, "M_UNKNOWN", "Leave the room before forgetting it");
  }
  await forgetRoom(env.DB, requester.userId, roomId);
}
