import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../http/auth";
import { MatrixError, forbidden } from "../http/errors";
import type { AppEnv } from "../http/types";
import { parseBody } from "../http/validate";
import type { Appservice } from "./registration";
import { loadAppservices } from "./registry";
import { appserviceFetch } from "./transport";

const PING_TIMEOUT_MS = 10_000;

/** POST {url}/_matrix/app/v1/ping, answering the Client-Server API's errors for each way it can fail. */
async function pingAppservice(env: Env, as: Appservice, transactionId: string | undefined): Promise<number> {
  if (as.url === null) throw new MatrixError(400, "M_URL_NOT_SET", "Application service doesn't have a URL configured");
  const started = Date.now();
  let res: Response;
  try {
    const request = new Request(`${as.url}/_matrix/app/v1/ping`, {
      method: "POST",
      headers: { authorization: `Bearer ${as.hsToken}`, "content-type": "application/json" },
      body: JSON.stringify(transactionId === undefined ? {} : { transaction_id: transactionId }),
      signal: AbortSignal.timeout(PING_TIMEOUT_MS),
    });
    res = await appserviceFetch(env, request);
  } catch (err) {
    if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
      throw new MatrixError(504, "M_CONNECTION_TIMEOUT", "Connection to application service timed out");
    }
    throw new MatrixError(502, "M_CONNECTION_FAILED", "Connection to application service failed");
  }
  const body = await res.text();
  if (!res.ok) {
    throw new MatrixError(502, "M_BAD_STATUS", `Ping returned status ${res.status}`, { status: res.status, body: body.slice(0, 4096) });
  }
  return Date.now() - started;
}

/** The Client-Server API endpoints only appservices call. */
export const appserviceApi = new Hono<AppEnv>()
  /** POST /_matrix/client/v1/appservice/{appserviceId}/ping */
  .post("/v1/appservice/:appserviceId/ping", requireAuth, async (c) => {
    const body = await parseBody(c, z.object({ transaction_id: z.string().max(255).optional() }), { allowEmpty: true });
    const own = c.var.requester.appserviceId;
    if (own === undefined || own !== c.req.param("appserviceId")) {
      throw forbidden("Provided access token is not the appservice's as_token");
    }
    const as = loadAppservices(c.env).byId(own)!;
    return c.json({ duration_ms: await pingAppservice(c.env, as, body.transaction_id) });
  });
