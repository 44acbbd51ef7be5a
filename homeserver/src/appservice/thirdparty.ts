import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { requireAuth } from "../http/auth";
import { missingParam, notFound } from "../http/errors";
import type { AppEnv } from "../http/types";
import type { Appservice } from "./registration";
import { loadAppservices } from "./registry";
import { appserviceFetch } from "./transport";

const LOOKUP_TIMEOUT_MS = 10_000;

const Instance = z.looseObject({ network_id: z.string(), desc: z.string(), fields: z.record(z.string(), z.unknown()) });
const Protocol = z.looseObject({ instances: z.array(Instance).default([]) });
const Results = z.array(z.looseObject({}));

/** The server-wide id of an appservice's network (a protocol instance). */
const instanceId = (appserviceId: string, networkId: string) => `${appserviceId}|${networkId}`;

/** The appservice network an `instance_id` names, if a registered appservice's id prefixes it. */
export function appserviceNetworkOf(env: Env, id: string): { appserviceId: string; networkId: string } | undefined {
  const as = loadAppservices(env).all.find((a) => id.startsWith(instanceId(a.id, "")));
  return as && { appserviceId: as.id, networkId: id.slice(instanceId(as.id, "").length) };
}

/** GETs `/_matrix/app/v1/thirdparty/...` from one appservice; an unreachable or malformed answer counts as none. */
async function ask<S extends z.ZodType>(env: Env, as: Appservice, path: string, query: URLSearchParams, schema: S): Promise<z.infer<S> | null> {
  const qs = query.toString();
  try {
    const request = new Request(`${as.url}/_matrix/app/v1/thirdparty/${path}${qs ? `?${qs}` : ""}`, {
      headers: { authorization: `Bearer ${as.hsToken}` },
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    });
    const res = await appserviceFetch(env, request);
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const parsed = schema.safeParse(await res.json());
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The client's query fields, minus the parameters that authenticate it. */
function forwardedQuery(c: Context<AppEnv>): URLSearchParams {
  const query = new URLSearchParams(new URL(c.req.url).search);
  for (const own of ["access_token", "user_id", "device_id", "org.matrix.msc3202.device_id"]) query.delete(own);
  return query;
}

function handlers(c: Context<AppEnv>, protocol?: string): Appservice[] {
  return loadAppservices(c.env).all.filter((as) => as.url !== null && (protocol === undefined || as.protocols.includes(protocol)));
}

/** Every protocol's metadata, instances of all appservices merged, each given a server-wide `instance_id`. */
async function protocols(c: Context<AppEnv>, only?: string): Promise<Record<string, z.infer<typeof Protocol>>> {
  const merged: Record<string, z.infer<typeof Protocol>> = {};
  const asked = handlers(c, only).flatMap((as) =>
    as.protocols.filter((p) => only === undefined || p === only).map(async (p) => ({ as, p, meta: await ask(c.env, as, `protocol/${encodeURIComponent(p)}`, new URLSearchParams(), Protocol) })),
  );
  for (const { as, p, meta } of await Promise.all(asked)) {
    if (!meta) continue;
    const instances = meta.instances.map((i) => ({ ...i, instance_id: instanceId(as.id, i.network_id) }));
    const existing = merged[p];
    merged[p] = existing ? { ...existing, instances: [...existing.instances, ...instances] } : { ...meta, instances };
  }
  return merged;
}

/** Asks every appservice in `targets` and concatenates their answers. */
async function lookup(env: Env, targets: Appservice[], path: string, query: URLSearchParams): Promise<unknown[]> {
  const answers = await Promise.all(targets.map((as) => ask(env, as, path, query, Results)));
  return answers.flatMap((a) => a ?? []);
}

/** Third-party networks, answered by the appservices that registered them (Client-Server API, "Third-party networks"). */
export const thirdParty = new Hono<AppEnv>()
  .use("/v3/thirdparty/*", requireAuth)
  /** GET /_matrix/client/v3/thirdparty/protocols */
  .get("/v3/thirdparty/protocols", async (c) => c.json(await protocols(c)))
  /** GET /_matrix/client/v3/thirdparty/protocol/{protocol} */
  .get("/v3/thirdparty/protocol/:protocol", async (c) => {
    const protocol = c.req.param("protocol");
    const meta = (await protocols(c, protocol))[protocol];
    if (!meta) throw notFound("Protocol not known");
    return c.json(meta);
  })
  /** GET /_matrix/client/v3/thirdparty/location/{protocol} and /thirdparty/user/{protocol} */
  .get("/v3/thirdparty/:kind{location|user}/:protocol", async (c) => {
    const protocol = c.req.param("protocol");
    const targets = handlers(c, protocol);
    if (targets.length === 0) throw notFound("Protocol not known");
    return c.json(await lookup(c.env, targets, `${c.req.param("kind")}/${encodeURIComponent(protocol)}`, forwardedQuery(c)));
  })
  /** GET /_matrix/client/v3/thirdparty/location?alias= and /thirdparty/user?userid= */
  .get("/v3/thirdparty/:kind{location|user}", async (c) => {
    const kind = c.req.param("kind");
    const query = forwardedQuery(c);
    const key = kind === "location" ? "alias" : "userid";
    if (!query.get(key)) throw missingParam(`Missing parameter '${key}'`);
    const results = await lookup(c.env, handlers(c), kind, new URLSearchParams({ [key]: query.get(key)! }));
    if (results.length === 0) throw notFound(`No ${kind} found`);
    return c.json(results);
  });
