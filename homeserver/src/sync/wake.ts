import { getJoinedMembers } from "../storage/sync";
import { notifyUsers } from "./notifier";

/**
 * Wake-ups for writers of the shared stream (migrations/0003), to be called (under waitUntil) with the position their
 * commit took. Room events need none of this: the RoomObject wakes its members itself.
 */

/** A receipt or typing change in a room: every joined member's /sync reports it. */
export async function wakeRoomMembers(env: Env, roomId: string, position: number): Promise<void> {
  await notifyUsers(env, await getJoinedMembers(env.DB, roomId), position, "shared");
}

/** An account data change: only its owner sees it. */
export function wakeUser(env: Env, userId: string, position: number): Promise<void> {
  return notifyUsers(env, [userId], position, "shared");
}
