import { MatrixError, forbidden, notFound } from "../http/errors";
import { getProfile, setProfileField } from "../storage/profiles";
import { getUser } from "../storage/users";
import { parseUserId } from "./identifiers";

export type ProfileField = "displayname" | "avatar_url";

/** A user's profile as the spec shows it: fields that are not set are absent. */
export async function publicProfile(db: D1Database, userId: string): Promise<Partial<Record<ProfileField, string>>> {
  if (!parseUserId(userId)) throw new MatrixError(400, "M_INVALID_PARAM", "Invalid user id");
  const profile = await getProfile(db, userId);
  if (!profile) throw notFound("Profile not found");
  const shown: Partial<Record<ProfileField, string>> = {};
  if (profile.displayname) shown.displayname = profile.displayname;
  if (profile.avatar_url) shown.avatar_url = profile.avatar_url;
  return shown;
}

/** Sets (or, with null or "", clears) one field of the user's own profile. */
export async function updateProfile(db: D1Database, userId: string, field: ProfileField, value: string | null): Promise<void> {
  const user = await getUser(db, userId);
  if (!user || user.deactivated) throw forbidden("Account is deactivated");
  await setProfileField(db, userId, field, value || null);
}
