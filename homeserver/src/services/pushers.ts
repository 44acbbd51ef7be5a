import { z } from "zod";
import { invalidParam, missingParam } from "../http/errors";
import { check } from "../http/validate";
import { type PusherRow, deletePusher, getPushers, putPusher } from "../storage/push";
import { byteLength } from "./identifiers";

/**
 * Pushers (POST /pushers/set, GET /pushers). Stored only: delivery to push gateways (POST /_matrix/push/v1/notify)
 * is not implemented yet.
 */

const NOTIFY_PATH = "/_matrix/push/v1/notify";

/** The body of POST /pushers/set: `kind: null` deletes, so the other fields are required only otherwise. */
export const PusherBody = z.object({
  app_id: z.string().min(1).max(64),
  pushkey: z.string().min(1).refine((k) => byteLength(k) <= 512, "must be at most 512 bytes"),
  kind: z.union([z.enum(["http", "email"]), z.null()]),
  app_display_name: z.string().optional(),
  device_display_name: z.string().optional(),
  profile_tag: z.string().max(256).optional(),
  lang: z.string().max(64).optional(),
  data: z.looseObject({ url: z.string().optional(), format: z.string().optional() }).optional(),
  append: z.boolean().optional(),
});
export type PusherBody = z.infer<typeof PusherBody>;

/** A pusher as GET /pushers shows it. */
export interface Pusher {
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: Record<string, unknown>;
}

function checkHttpUrl(url: string | undefined): void {
  if (url === undefined) throw missingParam("data.url is required for http pushers");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParam("data.url is not a URL");
  }
  // The spec asks for HTTPS; plain http is allowed to a gateway on this machine (local development and tests).
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) throw invalidParam("data.url must be an HTTPS URL");
  if (parsed.pathname !== NOTIFY_PATH) throw invalidParam(`data.url must have the path ${NOTIFY_PATH}`);
}

export async function listPushers(db: D1Database, userId: string): Promise<Pusher[]> {
  return (await getPushers(db, userId)).map((row) => ({
    app_id: row.app_id,
    pushkey: row.pushkey,
    kind: row.kind,
    app_display_name: row.app_display_name,
    device_display_name: row.device_display_name,
    ...(row.profile_tag === null ? {} : { profile_tag: row.profile_tag }),
    lang: row.lang,
    data: JSON.parse(row.data) as Record<string, unknown>,
  }));
}

/** POST /pushers/set: creates, replaces or (kind null) deletes the user's pusher for (app_id, pushkey). */
export async function setPusher(db: D1Database, userId: string, deviceId: string, body: unknown): Promise<void> {
  const p = check(PusherBody, body, "body");
  if (p.kind === null) return deletePusher(db, userId, p.app_id, p.pushkey);
  const required = { app_display_name: p.app_display_name, device_display_name: p.device_display_name, lang: p.lang, data: p.data };
  for (const [name, value] of Object.entries(required)) if (value === undefined) throw missingParam(`Missing field '${name}'`);
  if (p.kind === "http") checkHttpUrl(p.data!.url);
  const row: PusherRow = {
    user_id: userId,
    app_id: p.app_id,
    pushkey: p.pushkey,
    kind: p.kind,
    app_display_name: p.app_display_name!,
    device_display_name: p.device_display_name!,
    profile_tag: p.profile_tag ?? null,
    lang: p.lang!,
    data: JSON.stringify(p.data),
    device_id: deviceId,
    created_ts: Date.now(),
  };
  await putPusher(db, row, p.append ?? false);
}
