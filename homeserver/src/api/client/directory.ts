import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import {
  createRoomAlias,
  deleteRoomAlias,
  directoryVisibility,
  localAliasesOf,
  publicRooms,
  resolveRoomAlias,
  setAppserviceDirectoryVisibility,
  setDirectoryVisibility,
} from "../../services/directory";
import { checkAliasAllowed } from "../../appservice/policy";
import { withAppserviceQuery } from "../../appservice/query";
import { appserviceNetworkOf } from "../../appservice/thirdparty";
import { roomIdOf } from "./rooms";

const Limit = z.coerce.number().int().min(1);
const Server = z.object({ server: z.string().optional() });

const PublicRoomsBody = z.object({
  limit: z.number().int().min(1).optional(),
  since: z.string().optional(),
  filter: z
    .object({
      generic_search_term: z.string().nullish(),
      room_types: z.array(z.string().nullable()).nullish(),
    })
    .nullish(),
  include_all_networks: z.boolean().optional(),
  third_party_instance_id: z.string().optional(),
});

/** Room aliases and the published room directory (spec: "Room aliases", "Published room directory"). */
export const directory = new Hono<AppEnv>()
  /** PUT /_matrix/client/v3/directory/room/{roomAlias} */
  .put("/v3/directory/room/:roomAlias", requireAuth, async (c) => {
    const body = await parseBody(c, z.object({ room_id: z.string().regex(/^!\S+$/, "must be a room id") }));
    checkAliasAllowed(c.env, c.var.requester, c.req.param("roomAlias"));
    await createRoomAlias(c.env.DB, c.var.config, c.var.requester, c.req.param("roomAlias"), body.room_id);
    return c.json({});
  })
  /** GET /_matrix/client/v3/directory/room/{roomAlias} (no authentication) */
  .get("/v3/directory/room/:roomAlias", async (c) => {
    const alias = c.req.param("roomAlias");
    return c.json(await withAppserviceQuery(c.env, "alias", alias, () => resolveRoomAlias(c.env.DB, c.var.config, alias)));
  })
  /** DELETE /_matrix/client/v3/directory/room/{roomAlias} */
  .delete("/v3/directory/room/:roomAlias", requireAuth, async (c) => {
    await deleteRoomAlias(c.env, c.var.requester, c.req.param("roomAlias"));
    return c.json({});
  })
  /** GET /_matrix/client/v3/rooms/{roomId}/aliases */
  .get("/v3/rooms/:roomId/aliases", requireAuth, async (c) => {
    const aliases = await localAliasesOf(c.env.DB, c.var.requester, roomIdOf(c));
    return c.json({ aliases });
  })
  /** GET /_matrix/client/v3/directory/list/room/{roomId} (no authentication) */
  .get("/v3/directory/list/room/:roomId", async (c) => c.json({ visibility: await directoryVisibility(c.env.DB, roomIdOf(c)) }))
  /** PUT /_matrix/client/v3/directory/list/room/{roomId} */
  .put("/v3/directory/list/room/:roomId", requireAuth, async (c) => {
    const roomId = roomIdOf(c);
    const body = await parseBody(c, z.object({ visibility: z.enum(["public", "private"]).default("public") }));
    await setDirectoryVisibility(c.env.DB, c.var.requester, roomId, body.visibility);
    return c.json({});
  })
  /** PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId} (as_token only) */
  .put("/v3/directory/list/appservice/:networkId/:roomId", requireAuth, async (c) => {
    const body = await parseBody(c, z.object({ visibility: z.enum(["public", "private"]) }));
    await setAppserviceDirectoryVisibility(c.env.DB, c.var.requester, c.req.param("networkId"), roomIdOf(c), body.visibility);
    return c.json({});
  })
  /** GET /_matrix/client/v3/publicRooms (no authentication) */
  .get("/v3/publicRooms", async (c) => {
    const query = parseQuery(c, Server.extend({ limit: Limit.optional(), since: z.string().optional() }));
    return c.json(await publicRooms(c.env.DB, c.var.config, query));
  })
  /** POST /_matrix/client/v3/publicRooms */
  .post("/v3/publicRooms", requireAuth, async (c) => {
    const { server } = parseQuery(c, Server);
    const body = await parseBody(c, PublicRoomsBody);
    return c.json(
      await publicRooms(c.env.DB, c.var.config, {
        server,
        limit: body.limit,
        since: body.since,
        searchTerm: body.filter?.generic_search_term ?? undefined,
        roomTypes: body.filter?.room_types ?? undefined,
        includeAllNetworks: body.include_all_networks,
        thirdPartyInstanceId: body.third_party_instance_id,
        networkOf: (id) => appserviceNetworkOf(c.env, id),
      }),
    );
  });
