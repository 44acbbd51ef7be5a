export interface UserRow {
  user_id: string;
  password_hash: string | null;
  created_ts: number;
  deactivated: number;
  appservice_id: string | null;
}

export function getUser(db: D1Database, userId: string): Promise<UserRow | null> {
  return db.prepare("SELECT * FROM users WHERE user_id = ?").bind(userId).first<UserRow>();
}

/** Inserts a user and an empty profile atomically; returns false when the id is taken. */
export async function insertUser(
  db: D1Database,
  user: { userId: string; passwordHash: string | null; appserviceId?: string | null; displayname: string | null },
): Promise<boolean> {
  const inserted = await db
    .prepare("INSERT INTO users (user_id, password_hash, created_ts, appservice_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .bind(user.userId, user.passwordHash, Date.now(), user.appserviceId ?? null)
    .run();
  if (inserted.meta.changes === 0) return false;
  await db
    .prepare("INSERT INTO profiles (user_id, displayname) VALUES (?, ?) ON CONFLICT DO NOTHING")
    .bind(user.userId, user.displayname)
    .run();
  return true;
}

export async function setPasswordHash(db: D1Database, userId: string, passwordHash: string | null): Promise<void> {
  await db.prepare("UPDATE users SET password_hash = ? WHERE user_id = ?").bind(passwordHash, userId).run();
}

export async function markDeactivated(db: D1Database, userId: string): Promise<void> {
  await db.batch([
    db.prepare("UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = ?").bind(userId),
    db.prepare("UPDATE profiles SET displayname = NULL, avatar_url = NULL WHERE user_id = ?").bind(userId),
  ]);
}
