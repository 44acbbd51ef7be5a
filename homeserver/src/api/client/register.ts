import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden } from "../../http/errors";
import { clientIp, rateLimit } from "../../http/ratelimit";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { checkUsernameAvailable, createAccount } from "../../services/accounts";
import { startSession } from "../../services/sessions";
import { AuthDict, type Stage, userInteractiveAuth } from "../../services/uia";
import type { Config } from "../../config";
import { equalSecrets } from "../../util/hash";
import { APPSERVICE_LOGIN_TYPE, appserviceRegistration, missingAppserviceToken } from "../../appservice/account";
import { checkUserNotReserved } from "../../appservice/policy";

const RegisterBody = z.object({
  type: z.string().optional(),
  auth: AuthDict.optional(),
  username: z.string().min(1).max(255).optional(),
  password: z.string().max(1024).optional(),
  device_id: z.string().min(1).max(255).optional(),
  initial_device_display_name: z.string().max(255).optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
});

const RegisterQuery = z.object({ kind: z.enum(["user", "guest"]).optional() });

function registrationFlows(config: Config): Stage[][] {
  if (config.REGISTRATION === "closed") throw forbidden("Registration is disabled on this server");
  return config.REGISTRATION === "token" ? [["m.login.registration_token"]] : [["m.login.dummy"]];
}

export const register = new Hono<AppEnv>()
  /** POST /_matrix/client/v3/register */
  .post("/v3/register", async (c) => {
    const viaAppservice = await appserviceRegistration(c);
    if (viaAppservice) return viaAppservice;
    const { kind } = parseQuery(c, RegisterQuery);
    if (kind === "guest") throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
    const config = c.var.config;
    const flows = registrationFlows(config);
    await rateLimit(c, "register", [clientIp(c)]);
    const body = await parseBody(c, RegisterBody);
    if (body.type === APPSERVICE_LOGIN_TYPE) throw missingAppserviceToken(c);
    // Tell the client a name is taken before it walks through the auth stages.
    if (body.username !== undefined) checkUserNotReserved(c.env, await checkUsernameAvailable(c.env.DB, config, body.username));
    await userInteractiveAuth({ kv: c.env.KV, db: c.env.DB, config, purpose: "register", flows }, body.auth);
    const userId = await createAccount(c.env.DB, config, { localpart: body.username, password: body.password });
    if (body.inhibit_login) return c.json({ user_id: userId });
    const session = await startSession(c.env.DB, config, {
      userId,
      deviceId: body.device_id,
      displayName: body.initial_device_display_name,
      refresh: body.refresh_token === true,
      ip: clientIp(c),
    });
    return c.json(session);
  })
  /** GET /_matrix/client/v3/register/available */
  .get("/v3/register/available", async (c) => {
    const { username } = parseQuery(c, z.object({ username: z.string().min(1).max(255) }));
    await rateLimit(c, "register", [clientIp(c)]);
    checkUserNotReserved(c.env, await checkUsernameAvailable(c.env.DB, c.var.config, username));
    return c.json({ available: true });
  })
  /** GET /_matrix/client/v1/register/m.login.registration_token/validity */
  .get("/v1/register/m.login.registration_token/validity", async (c) => {
    const { token } = parseQuery(c, z.object({ token: z.string().min(1).max(64) }));
    const config = c.var.config;
    if (config.REGISTRATION !== "token") throw forbidden("Registration tokens are not used on this server");
    await rateLimit(c, "register", [clientIp(c)]);
    return c.json({ valid: await equalSecrets(token, config.REGISTRATION_TOKEN!) });
  });
