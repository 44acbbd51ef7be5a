import type { Context } from "hono";
import { MatrixError } from "../http/errors";
import type { AppEnv } from "../http/types";
import { loadAppservices } from "./registry";

const exclusive = (msg: string) => new MatrixError(400, "M_EXCLUSIVE", msg);

/** Normal users may not register ids an appservice reserves exclusively (spec: M_EXCLUSIVE). */
export function checkUserNotReserved(env: Env, userId: string): void {
  const owner = loadAppservices(env).exclusiveOwnerOfUser(userId);
  if (owner) throw exclusive("User id is reserved by an application service");
}

/**
 * Who may create an alias: an appservice only inside its alias namespaces, anyone else only outside every
 * exclusive alias namespace (spec: M_EXCLUSIVE both ways).
 */
export function checkAliasAllowed(env: Env, requester: { appserviceId?: string }, alias: string): void {
  const registry = loadAppservices(env);
  const own = requester.appserviceId !== undefined ? registry.byId(requester.appserviceId) : undefined;
  if (own) {
    if (!own.aliases.some((ns) => ns.regex.test(alias))) throw exclusive("Alias is outside the application service's namespaces");
    return;
  }
  if (registry.exclusiveOwnerOfAlias(alias)) throw exclusive("Alias is reserved by an application service");
}

/** `?ts=` (Application Service API, "Timestamp massaging"): only appservices may set origin_server_ts. */
export function appserviceTs(c: Context<AppEnv>): number | undefined {
  const raw = c.req.query("ts");
  if (raw === undefined || c.var.requester.appserviceId === undefined) return undefined;
  const ts = Number(raw);
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(ts)) throw new MatrixError(400, "M_INVALID_PARAM", "'ts' must be a timestamp in milliseconds");
  return ts;
}
