import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { crossSigningUploadNeedsAuth, uploadCrossSigningKeys, uploadSignatures } from "../../e2ee/cross-signing";
import { claimKeys, deviceListChanges, queryKeys, uploadKeys } from "../../e2ee/device-keys";
import { CrossSigningKey, DeviceKeys, KeyMap, Signatures } from "../../e2ee/schemas";
import { AuthDict, userInteractiveAuth } from "../../services/uia";
import { parseSyncToken } from "../../sync/token";

const UserId = z.string().min(1).max(255);
/** Bounds on how many users/devices one query or claim may name. */
const MAX_USERS = 1000;
const MAX_DEVICES_PER_USER = 1000;

const maxEntries = (n: number) => (o: Record<string, unknown>) => Object.keys(o).length <= n;

const UploadBody = z.object({
  device_keys: DeviceKeys.optional(),
  one_time_keys: KeyMap.optional(),
  fallback_keys: KeyMap.optional(),
});

const QueryBody = z.object({
  device_keys: z
    .record(UserId, z.array(z.string().max(255)).max(MAX_DEVICES_PER_USER))
    .refine(maxEntries(MAX_USERS), `at most ${MAX_USERS} users per query`),
  timeout: z.number().int().nonnegative().optional(),
});

const ClaimBody = z.object({
  one_time_keys: z
    .record(UserId, z.record(z.string().max(255), z.string().max(255)).refine(maxEntries(MAX_DEVICES_PER_USER), "too many devices"))
    .refine(maxEntries(MAX_USERS), `at most ${MAX_USERS} users per claim`),
  timeout: z.number().int().nonnegative().optional(),
});

const DeviceSigningBody = z.object({
  master_key: CrossSigningKey.optional(),
  self_signing_key: CrossSigningKey.optional(),
  user_signing_key: CrossSigningKey.optional(),
  auth: AuthDict.optional(),
});

/** userId -> key id (device id or cross-signing public key) -> the key object with the new signatures. */
const SignaturesBody = z
  .record(UserId, z.record(z.string().max(255), z.looseObject({ signatures: Signatures.optional() })).refine(maxEntries(MAX_DEVICES_PER_USER), "too many keys"))
  .refine(maxEntries(MAX_USERS), `at most ${MAX_USERS} users`);

export const keys = new Hono<AppEnv>()
  .use("/v3/keys/*", requireAuth)
  /** POST /_matrix/client/v3/keys/upload */
  .post("/v3/keys/upload", async (c) => {
    const body = await parseBody(c, UploadBody, { allowEmpty: true });
    const { userId, deviceId } = c.var.requester;
    const counts = await uploadKeys(c.env, userId, deviceId, body, c.executionCtx);
    return c.json({ one_time_key_counts: counts.one_time_key_counts });
  })
  /** POST /_matrix/client/v3/keys/query */
  .post("/v3/keys/query", async (c) => {
    const body = await parseBody(c, QueryBody);
    return c.json(await queryKeys(c.env.DB, c.var.requester.userId, c.var.config.SERVER_NAME, body.device_keys));
  })
  /** POST /_matrix/client/v3/keys/claim */
  .post("/v3/keys/claim", async (c) => {
    const body = await parseBody(c, ClaimBody);
    return c.json(await claimKeys(c.env, c.var.config.SERVER_NAME, body.one_time_keys));
  })
  /** GET /_matrix/client/v3/keys/changes */
  .get("/v3/keys/changes", async (c) => {
    const q = parseQuery(c, z.object({ from: z.string().max(64), to: z.string().max(64) }));
    return c.json(await deviceListChanges(c.env.DB, c.var.requester.userId, parseSyncToken(q.from), parseSyncToken(q.to)));
  })
  /** POST /_matrix/client/v3/keys/device_signing/upload */
  .post("/v3/keys/device_signing/upload", async (c) => {
    const body = await parseBody(c, DeviceSigningBody);
    const { userId } = c.var.requester;
    if (await crossSigningUploadNeedsAuth(c.env.DB, userId, body)) {
      await userInteractiveAuth(
        { kv: c.env.KV, db: c.env.DB, config: c.var.config, purpose: `device_signing:${userId}`, flows: [["m.login.password"]], userId },
        body.auth,
      );
    }
    await uploadCrossSigningKeys(c.env, userId, body);
    return c.json({});
  })
  /** POST /_matrix/client/v3/keys/signatures/upload */
  .post("/v3/keys/signatures/upload", async (c) => {
    const body = await parseBody(c, SignaturesBody);
    return c.json(await uploadSignatures(c.env, c.var.requester.userId, body));
  });
