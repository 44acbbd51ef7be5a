export interface ProfileRow {
  displayname: string | null;
  avatar_url: string | null;
}

export function getProfile(db: D1Database, userId: string): Promise<ProfileRow | null> {
  return db.prepare("SELECT displayname, avatar_url FROM profiles WHERE user_id = ?").bind(userId).first<ProfileRow>();
}

export async function setProfileField(
  db: D1Database,
  userId: string,
  field: "displayname" | "avatar_url",
  value: string | null,
): Promise<void> {
  // The column name comes from a closed union, never from input.
  await db.prepare(`UPDATE profiles SET ${field} = ? WHERE user_id = ?`).bind(value, userId).run();
}
