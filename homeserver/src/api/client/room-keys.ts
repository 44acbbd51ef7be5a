import { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import {
  allRoomKeys,
  backupInfo,
  createBackup,
  deleteBackup,
  removeRoomKeys,
  roomKeyOfSession,
  roomKeysOfRoom,
  storeRoomKeys,
  updateBackup,
} from "../../e2ee/key-backup";

const VersionBody = z.object({
  algorithm: z.string().min(1).max(255),
  auth_data: z.record(z.string(), z.unknown()),
  version: z.string().max(32).optional(),
});

const KeyBackupData = z.object({
  first_message_index: z.number().int().nonnegative(),
  forwarded_count: z.number().int().nonnegative(),
  is_verified: z.boolean(),
  session_data: z.record(z.string(), z.unknown()),
});
const RoomKeyBackup = z.object({ sessions: z.record(z.string().max(255), KeyBackupData) });
const VersionQuery = z.object({ version: z.string().max(32) });

export const roomKeys = new Hono<AppEnv>()
  .use("/v3/room_keys/*", requireAuth)
  /** POST /_matrix/client/v3/room_keys/version */
  .post("/v3/room_keys/version", async (c) => {
    const body = await parseBody(c, VersionBody);
    return c.json({ version: await createBackup(c.env.DB, c.var.requester.userId, body.algorithm, body.auth_data) });
  })
  /** GET /_matrix/client/v3/room_keys/version */
  .get("/v3/room_keys/version", async (c) => c.json(await backupInfo(c.env.DB, c.var.requester.userId)))
  /** GET /_matrix/client/v3/room_keys/version/{version} */
  .get("/v3/room_keys/version/:version", async (c) => c.json(await backupInfo(c.env.DB, c.var.requester.userId, c.req.param("version"))))
  /** PUT /_matrix/client/v3/room_keys/version/{version} */
  .put("/v3/room_keys/version/:version", async (c) => {
    const body = await parseBody(c, VersionBody);
    await updateBackup(c.env.DB, c.var.requester.userId, c.req.param("version"), body);
    return c.json({});
  })
  /** DELETE /_matrix/client/v3/room_keys/version/{version} */
  .delete("/v3/room_keys/version/:version", async (c) => {
    await deleteBackup(c.env.DB, c.var.requester.userId, c.req.param("version"));
    return c.json({});
  })
  /** GET /_matrix/client/v3/room_keys/keys */
  .get("/v3/room_keys/keys", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    return c.json(await allRoomKeys(c.env.DB, c.var.requester.userId, version));
  })
  /** PUT /_matrix/client/v3/room_keys/keys */
  .put("/v3/room_keys/keys", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    const body = await parseBody(c, z.object({ rooms: z.record(z.string().max(255), RoomKeyBackup) }));
    return c.json(await storeRoomKeys(c.env.DB, c.var.requester.userId, version, body.rooms));
  })
  /** DELETE /_matrix/client/v3/room_keys/keys */
  .delete("/v3/room_keys/keys", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    return c.json(await removeRoomKeys(c.env.DB, c.var.requester.userId, version));
  })
  /** GET /_matrix/client/v3/room_keys/keys/{roomId} */
  .get("/v3/room_keys/keys/:roomId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    return c.json(await roomKeysOfRoom(c.env.DB, c.var.requester.userId, version, c.req.param("roomId")));
  })
  /** PUT /_matrix/client/v3/room_keys/keys/{roomId} */
  .put("/v3/room_keys/keys/:roomId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    const body = await parseBody(c, RoomKeyBackup);
    return c.json(await storeRoomKeys(c.env.DB, c.var.requester.userId, version, { [c.req.param("roomId")]: body }));
  })
  /** DELETE /_matrix/client/v3/room_keys/keys/{roomId} */
  .delete("/v3/room_keys/keys/:roomId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    return c.json(await removeRoomKeys(c.env.DB, c.var.requester.userId, version, c.req.param("roomId")));
  })
  /** GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  .get("/v3/room_keys/keys/:roomId/:sessionId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    const { roomId, sessionId } = c.req.param();
    return c.json(await roomKeyOfSession(c.env.DB, c.var.requester.userId, version, roomId, sessionId));
  })
  /** PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  .put("/v3/room_keys/keys/:roomId/:sessionId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    const body = await parseBody(c, KeyBackupData);
    const { roomId, sessionId } = c.req.param();
    return c.json(await storeRoomKeys(c.env.DB, c.var.requester.userId, version, { [roomId]: { sessions: { [sessionId]: body } } }));
  })
  /** DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  .delete("/v3/room_keys/keys/:roomId/:sessionId", async (c) => {
    const { version } = parseQuery(c, VersionQuery);
    const { roomId, sessionId } = c.req.param();
    return c.json(await removeRoomKeys(c.env.DB, c.var.requester.userId, version, roomId, sessionId));
  });
