import { getCurrentStateRow } from "../storage/events";
import { getProfile } from "../storage/profiles";
import { roomsWithMembership } from "../storage/rooms";
import type { Pdu } from "../rooms/pdu";
import { roomObject } from "./room-client";

/**
 * After a profile change, re-sends the user's member event in every room they are joined to, so other members
 * see the new name and avatar (spec: "Events on change of profile information"). Rooms are independent; one
 * failing (e.g. the user lacks power to change their own member event) does not stop the others.
 */
export async function propagateProfile(env: Env, userId: string): Promise<void> {
  const [profile, roomIds] = await Promise.all([getProfile(env.DB, userId), roomsWithMembership(env.DB, userId, "join")]);
  await Promise.allSettled(
    roomIds.map(async (roomId) => {
      const current = await getCurrentStateRow(env.DB, roomId, "m.room.member", userId);
      if (!current) return;
      const content: Record<string, unknown> = { ...(JSON.parse(current.pdu) as Pdu).content, membership: "join" };
      delete content["displayname"];
      delete content["avatar_url"];
      if (profile?.displayname) content["displayname"] = profile.displayname;
      if (profile?.avatar_url) content["avatar_url"] = profile.avatar_url;
      await roomObject(env, roomId).send(roomId, { type: "m.room.member", state_key: userId, sender: userId, content });
    }),
  );
}
