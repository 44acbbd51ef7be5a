import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import { MatrixError, forbidden, notFound } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { parseBody } from "../../http/validate";
import { publicProfile, updateProfile } from "../../services/profiles";
import { withAppserviceQuery } from "../../appservice/query";
import { propagateProfile } from "../../services/profile-propagation";

const ProfileField = z.enum(["displayname", "avatar_url"]);
const MxcUri = z.string().regex(/^mxc:\/\/[^/]+\/[A-Za-z0-9_-]+$/, "must be an mxc:// URI");
const fieldSchemas = {
  displayname: z.object({ displayname: z.string().max(256).nullable() }),
  avatar_url: z.object({ avatar_url: z.union([MxcUri, z.literal("")]).nullable() }),
} as const;

function unknownField(name: string): MatrixError {
  return new MatrixError(400, "M_INVALID_PARAM", `Unsupported profile field ${name}`);
}

export const profile = new Hono<AppEnv>()
  /** GET /_matrix/client/v3/profile/{userId} */
  .get("/v3/profile/:userId", async (c) => {
    const userId = c.req.param("userId");
    return c.json(await withAppserviceQuery(c.env, "user", userId, () => publicProfile(c.env.DB, userId)));
  })
  /** GET /_matrix/client/v3/profile/{userId}/{keyName} */
  .get("/v3/profile/:userId/:keyName", async (c) => {
    const key = ProfileField.safeParse(c.req.param("keyName"));
    if (!key.success) throw unknownField(c.req.param("keyName"));
    const value = (await publicProfile(c.env.DB, c.req.param("userId")))[key.data];
    if (value === undefined) throw notFound(`No ${key.data} set`);
    return c.json({ [key.data]: value });
  })
  /** PUT /_matrix/client/v3/profile/{userId}/{keyName} */
  .put("/v3/profile/:userId/:keyName", requireAuth, async (c) => {
    const key = ProfileField.safeParse(c.req.param("keyName"));
    if (!key.success) throw unknownField(c.req.param("keyName"));
    const userId = c.req.param("userId");
    if (userId !== c.var.requester.userId) throw forbidden("You may only change your own profile");
    const body = (await parseBody(c, fieldSchemas[key.data])) as Record<string, string | null>;
    await updateProfile(c.env.DB, userId, key.data, body[key.data] ?? null);
    // Member events follow in the background: a user in many rooms (or bridged chats) should not wait on them.
    c.executionCtx.waitUntil(propagateProfile(c.env, userId));
    return c.json({});
  });
