import { MatrixError } from "../http/errors";
import { type Appservice, matchesAny, matchesExclusive } from "./registration";
import { loadAppservices } from "./registry";
import { appserviceFetch } from "./transport";

const QUERY_TIMEOUT_MS = 10_000;

/**
 * Runs `lookup`; when it answers M_NOT_FOUND for a user or alias inside an appservice's namespace, asks that
 * appservice (GET /_matrix/app/v1/users/{userId} or /rooms/{roomAlias}), which may create it on the spot, and
 * looks again once it answers 2xx (Application Service API, "Querying").
 */
export async function withAppserviceQuery<T>(env: Env, kind: "user" | "alias", id: string, lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup();
  } catch (err) {
    if (!(err instanceof MatrixError) || err.errcode !== "M_NOT_FOUND") throw err;
    if (!(await queryAppservices(env, kind, id))) throw err;
    return lookup();
  }
}

/** Asks the appservices whose namespaces cover `id`, exclusive ones first; true once one says it exists. */
async function queryAppservices(env: Env, kind: "user" | "alias", id: string): Promise<boolean> {
  const candidates = loadAppservices(env)
    .all.filter((as) => as.url !== null && matchesAny(kind === "user" ? as.users : as.aliases, id))
    .sort((a, b) => Number(exclusiveFor(b, kind, id)) - Number(exclusiveFor(a, kind, id)));
  for (const as of candidates) {
    const path = kind === "user" ? "users" : "rooms";
    try {
      const request = new Request(`${as.url}/_matrix/app/v1/${path}/${encodeURIComponent(id)}`, {
        headers: { authorization: `Bearer ${as.hsToken}` },
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
      const res = await appserviceFetch(env, request);
      await res.body?.cancel();
      if (res.ok) return true;
    } catch (err) {
      console.warn(`appservice ${as.id} query for ${id} failed: ${(err as Error).message}`);
    }
  }
  return false;
}

function exclusiveFor(as: Appservice, kind: "user" | "alias", id: string): boolean {
  return matchesExclusive(kind === "user" ? as.users : as.aliases, id);
}
