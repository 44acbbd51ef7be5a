import type { Context } from "hono";
import { MatrixError, forbidden } from "../http/errors";
import type { AppEnv, Requester } from "../http/types";
import { getDevice } from "../storage/devices";
import { getUser, insertUser } from "../storage/users";
import { type Appservice, ownsUser } from "./registration";
import { loadAppservices } from "./registry";

/** Senders already known to exist in this isolate, so the as_token path does not write on every request. */
const ensuredSenders = new Set<string>();

/** The appservice's own user exists from its first request on (as if registered with the appservice). */
async function ensureSender(db: D1Database, as: Appservice): Promise<void> {
  if (ensuredSenders.has(as.senderUserId)) return;
  await insertUser(db, { userId: as.senderUserId, passwordHash: null, appserviceId: as.id, displayname: as.senderLocalpart });
  ensuredSenders.add(as.senderUserId);
}

/**
 * Identity assertion (Application Service API, "Identity assertion"): an as_token acts as the appservice's sender,
 * or as `?user_id=` inside its user namespaces, optionally on `?device_id=` (or MSC3202's
 * `org.matrix.msc3202.device_id`). Returns null when the token is not an as_token.
 */
export async function authenticateAppservice(c: Context<AppEnv>, token: string): Promise<Requester | null> {
  const as = loadAppservices(c.env).byAsToken(token);
  if (!as) return null;
  const db = c.env.DB;
  const userId = c.req.query("user_id") ?? as.senderUserId;
  if (!ownsUser(as, userId)) throw forbidden("Application service cannot masquerade as this user");
  if (userId === as.senderUserId) await ensureSender(db, as);
  else {
    // As Synapse does: the appservice registers its users first (POST /register, m.login.application_service).
    const user = await getUser(db, userId);
    if (!user || user.deactivated) throw forbidden("Application service has not registered this user");
  }
  // The stable parameter (spec v1.17), or MSC3202's for registrations that opted in to it.
  const deviceId = c.req.query("device_id") ?? (as.msc3202 ? c.req.query("org.matrix.msc3202.device_id") : undefined);
  if (deviceId !== undefined && !(await getDevice(db, userId, deviceId))) {
    throw new MatrixError(400, "M_UNKNOWN_DEVICE", "Device does not belong to this user");
  }
  return { userId, deviceId: deviceId ?? "", tokenHash: "", appserviceId: as.id };
}

/** The appservice of the request's access token, if it is an as_token (read from the header or query). */
export function appserviceOfToken(c: Context<AppEnv>, token: string | null): Appservice | undefined {
  return token === null ? undefined : loadAppservices(c.env).byAsToken(token);
}
