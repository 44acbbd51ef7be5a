import { Hono } from "hono";
import type { Context } from "hono";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, readJson } from "../../http/validate";
import {
  TagBody,
  assertOwnAccountData,
  deleteTag,
  getAccountData,
  getTags,
  setAccountDataFromClient,
  setTag,
} from "../../services/account-data";
import { roomIdOf } from "./rooms";
import { wakeUser } from "../../sync/wake";

/** The `{userId}` path parameter, which must be the requester: account data is private. */
function ownUserIdOf(c: Context<AppEnv>): string {
  const userId = c.req.param("userId") ?? "";
  assertOwnAccountData(c.var.requester.userId, userId);
  return userId;
}

export const accountData = new Hono<AppEnv>()
  .use("/v3/user/*", requireAuth)
  /** GET /_matrix/client/v3/user/{userId}/account_data/{type} */
  .get("/v3/user/:userId/account_data/:type", async (c) => {
    const userId = ownUserIdOf(c);
    return c.json(await getAccountData(c.env.DB, userId, null, c.req.param("type")));
  })
  /** PUT /_matrix/client/v3/user/{userId}/account_data/{type} */
  .put("/v3/user/:userId/account_data/:type", async (c) => {
    const userId = ownUserIdOf(c);
    const content = (await readJson(c)) as Record<string, unknown>;
    const position = await setAccountDataFromClient(c.env.DB, userId, null, c.req.param("type"), content);
    // The owner's waiting /sync returns with it (clients wait for their own writes to come back, e.g. secret storage).
    c.executionCtx.waitUntil(wakeUser(c.env, userId, position));
    return c.json({});
  })
  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  .get("/v3/user/:userId/rooms/:roomId/account_data/:type", async (c) => {
    const userId = ownUserIdOf(c);
    return c.json(await getAccountData(c.env.DB, userId, roomIdOf(c), c.req.param("type")));
  })
  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  .put("/v3/user/:userId/rooms/:roomId/account_data/:type", async (c) => {
    const userId = ownUserIdOf(c);
    const roomId = roomIdOf(c);
    const content = (await readJson(c)) as Record<string, unknown>;
    const position = await setAccountDataFromClient(c.env.DB, userId, roomId, c.req.param("type"), content);
    c.executionCtx.waitUntil(wakeUser(c.env, userId, position));
    return c.json({});
  })
  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags */
  .get("/v3/user/:userId/rooms/:roomId/tags", async (c) => {
    const userId = ownUserIdOf(c);
    return c.json({ tags: await getTags(c.env.DB, userId, roomIdOf(c)) });
  })
  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  .put("/v3/user/:userId/rooms/:roomId/tags/:tag", async (c) => {
    const userId = ownUserIdOf(c);
    const roomId = roomIdOf(c);
    const body = await parseBody(c, TagBody);
    c.executionCtx.waitUntil(wakeUser(c.env, userId, await setTag(c.env.DB, userId, roomId, c.req.param("tag"), body)));
    return c.json({});
  })
  /** DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  .delete("/v3/user/:userId/rooms/:roomId/tags/:tag", async (c) => {
    const userId = ownUserIdOf(c);
    const position = await deleteTag(c.env.DB, userId, roomIdOf(c), c.req.param("tag"));
    if (position !== null) c.executionCtx.waitUntil(wakeUser(c.env, userId, position));
    return c.json({});
  });
