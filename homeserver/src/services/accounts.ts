import type { Config } from "../config";
import { MatrixError, forbidden } from "../http/errors";
import { deleteDevices, listDevices } from "../storage/devices";
import { getUser, insertUser, markDeactivated, setPasswordHash } from "../storage/users";
import { randomAlnum } from "../util/random";
import { isValidLocalpart } from "./identifiers";
import { hashPassword, verifyPassword } from "./passwords";

const invalidUsername = (msg: string) => new MatrixError(400, "M_INVALID_USERNAME", msg);
const userInUse = () => new MatrixError(400, "M_USER_IN_USE", "That user id is already taken");

/** Checks that a localpart may be registered and is free; returns the full user id. */
export async function checkUsernameAvailable(db: D1Database, config: Config, localpart: string): Promise<string> {
  if (!isValidLocalpart(localpart, config.SERVER_NAME)) {
    throw invalidUsername("User ids may contain only a-z, 0-9 and ._=-/+ and be at most 255 bytes long");
  }
  const userId = `@${localpart}:${config.SERVER_NAME}`;
  if (await getUser(db, userId)) throw userInUse();
  return userId;
}

/** Creates the account; exactly one of several concurrent registrations of one name succeeds. */
export async function createAccount(
  db: D1Database,
  config: Config,
  opts: { localpart?: string; password?: string },
): Promise<string> {
  const localpart = opts.localpart ?? `user${randomAlnum(12)}`;
  const userId = await checkUsernameAvailable(db, config, localpart);
  const passwordHash = opts.password === undefined ? null : await hashPassword(opts.password);
  const created = await insertUser(db, { userId, passwordHash, displayname: localpart });
  if (!created) throw userInUse();
  return userId;
}

/** Sets a new password; with `logoutDevices`, every other device of the user is signed out. */
export async function changePassword(
  db: D1Database,
  userId: string,
  currentDeviceId: string,
  newPassword: string,
  logoutDevices: boolean,
): Promise<void> {
  await setPasswordHash(db, userId, await hashPassword(newPassword));
  if (logoutDevices) {
    const others = (await listDevices(db, userId)).map((d) => d.device_id).filter((d) => d !== currentDeviceId);
    await deleteDevices(db, userId, others);
  }
}

/** Deactivates an account for good: no password, no profile, no devices or tokens. */
export async function deactivateAccount(db: D1Database, userId: string): Promise<void> {
  const user = await getUser(db, userId);
  if (!user || user.deactivated) throw forbidden("Account is already deactivated");
  await markDeactivated(db, userId);
  await deleteDevices(db, userId, "all");
}

/**
 * Checks a password login. The hash is always computed, so a wrong password, an unknown user and a deactivated
 * account all take the same time and get the same answer.
 */
export async function checkPasswordLogin(db: D1Database, userId: string | null, password: string): Promise<string> {
  const user = userId ? await getUser(db, userId) : null;
  const ok = await verifyPassword(password, user?.password_hash ?? null);
  if (!ok || !user || user.deactivated) throw forbidden("Invalid username or password");
  return user.user_id;
}
