import type { Context } from "hono";
import { z } from "zod";
import { accessTokenOf } from "../http/auth";
import { MatrixError, forbidden, missingParam, unknownToken } from "../http/errors";
import { clientIp, rateLimit } from "../http/ratelimit";
import type { AppEnv } from "../http/types";
import { parseBody } from "../http/validate";
import { checkUsernameAvailable } from "../services/accounts";
import { parseUserIdentifier } from "../services/identifiers";
import { type IssuedSession, startSession } from "../services/sessions";
import { getUser, insertUser } from "../storage/users";
import { appserviceOfToken } from "./auth";
import { ownsUser } from "./registration";

export const APPSERVICE_LOGIN_TYPE = "m.login.application_service";

const exclusive = (msg: string) => new MatrixError(400, "M_EXCLUSIVE", msg);

const AppserviceRegisterBody = z.object({
  type: z.literal(APPSERVICE_LOGIN_TYPE),
  username: z.string().min(1).max(255),
  device_id: z.string().min(1).max(255).optional(),
  initial_device_display_name: z.string().max(255).optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
});

/**
 * POST /_matrix/client/v3/register with an as_token: creates a user in the appservice's namespace without
 * user-interactive auth, whatever the server's registration setting. Returns null for any other request.
 */
export async function appserviceRegistration(c: Context<AppEnv>): Promise<Response | null> {
  const as = appserviceOfToken(c, accessTokenOf(c.req));
  if (!as) return null;
  const body = await parseBody(c, AppserviceRegisterBody);
  const config = c.var.config;
  const userId = `@${body.username}:${config.SERVER_NAME}`;
  if (!ownsUser(as, userId)) throw exclusive("User id is outside the application service's namespaces");
  await checkUsernameAvailable(c.env.DB, config, body.username);
  const created = await insertUser(c.env.DB, { userId, passwordHash: null, appserviceId: as.id, displayname: body.username });
  if (!created) throw new MatrixError(400, "M_USER_IN_USE", "That user id is already taken");
  if (body.inhibit_login) return c.json({ user_id: userId });
  return c.json(await sessionFor(c, userId, body));
}

/** A request naming the appservice login or registration type without a valid as_token (spec: 401). */
export function missingAppserviceToken(c: Context<AppEnv>): MatrixError {
  return accessTokenOf(c.req) === null
    ? new MatrixError(401, "M_MISSING_TOKEN", "The application service login type needs the as_token")
    : unknownToken("Unknown application service token");
}

/** POST /_matrix/client/v3/login with `m.login.application_service`: a session for a user the appservice owns. */
export async function appserviceLogin(
  c: Context<AppEnv>,
  body: { identifier?: { type: string }; user?: string; device_id?: string; initial_device_display_name?: string; refresh_token?: boolean },
): Promise<IssuedSession> {
  const as = appserviceOfToken(c, accessTokenOf(c.req));
  if (!as) throw missingAppserviceToken(c);
  const identifier = body.identifier ?? (body.user !== undefined ? { type: "m.id.user", user: body.user } : undefined);
  if (!identifier) throw missingParam("Missing 'identifier'");
  const userId = parseUserIdentifier(identifier, c.var.config.SERVER_NAME);
  if (!userId || !ownsUser(as, userId)) throw exclusive("User id is outside the application service's namespaces");
  if (as.rateLimited) await rateLimit(c, "login", [userId]);
  const user = await getUser(c.env.DB, userId);
  if (!user || user.deactivated) throw forbidden("Unknown user");
  return sessionFor(c, userId, body);
}

function sessionFor(
  c: Context<AppEnv>,
  userId: string,
  body: { device_id?: string; initial_device_display_name?: string; refresh_token?: boolean },
): Promise<IssuedSession> {
  return startSession(c.env.DB, c.var.config, {
    userId,
    deviceId: body.device_id,
    displayName: body.initial_device_display_name,
    refresh: body.refresh_token === true,
    ip: clientIp(c),
  });
}
