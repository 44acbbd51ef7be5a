import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, missingParam } from "../../http/errors";
import { clientIp, rateLimit } from "../../http/ratelimit";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { parseUserIdentifier } from "../../services/identifiers";
import { checkPasswordLogin } from "../../services/accounts";
import { startSession } from "../../services/sessions";
import { APPSERVICE_LOGIN_TYPE, appserviceLogin } from "../../appservice/account";

const LoginBody = z.object({
  type: z.string(),
  identifier: z.looseObject({ type: z.string() }).optional(),
  user: z.string().max(255).optional(),
  password: z.string().max(1024).optional(),
  device_id: z.string().min(1).max(255).optional(),
  initial_device_display_name: z.string().max(255).optional(),
  refresh_token: z.boolean().optional(),
});

export const login = new Hono<AppEnv>()
  /** GET /_matrix/client/v3/login: no password flow once password login is off (OAuth 2.0 is the way in). */
  .get("/v3/login", (c) =>
    c.json({ flows: [...(c.var.config.PASSWORD_LOGIN_ENABLED ? [{ type: "m.login.password" }] : []), { type: APPSERVICE_LOGIN_TYPE }] }),
  )
  /** POST /_matrix/client/v3/login */
  .post("/v3/login", async (c) => {
    const body = await parseBody(c, LoginBody);
    const config = c.var.config;
    if (body.type === APPSERVICE_LOGIN_TYPE) return c.json({ ...(await appserviceLogin(c, body)), home_server: config.SERVER_NAME });
    if (body.type !== "m.login.password") throw new MatrixError(400, "M_UNKNOWN", `Unknown login type ${body.type}`);
    if (!config.PASSWORD_LOGIN_ENABLED) throw forbidden("Password login is disabled on this server; use OAuth 2.0");
    const identifier = body.identifier ?? (body.user !== undefined ? { type: "m.id.user", user: body.user } : undefined);
    if (!identifier) throw missingParam("Missing 'identifier'");
    if (identifier.type !== "m.id.user") throw new MatrixError(400, "M_UNKNOWN", `Unknown identifier type ${identifier.type}`);
    if (body.password === undefined) throw missingParam("Missing 'password'");
    const userId = parseUserIdentifier(identifier, config.SERVER_NAME);
    await rateLimit(c, "login", [clientIp(c), userId]);
    const session = await startSession(c.env.DB, config, {
      userId: await checkPasswordLogin(c.env.DB, userId, body.password),
      deviceId: body.device_id,
      displayName: body.initial_device_display_name,
      refresh: body.refresh_token === true,
      ip: clientIp(c),
    });
    return c.json({ ...session, home_server: config.SERVER_NAME });
  });
