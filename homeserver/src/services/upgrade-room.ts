import type { Config } from "../config";
import { MatrixError, forbidden } from "../http/errors";
import type { Requester } from "../http/types";
import { requiredPowerLevel, stateKeyOf, userPowerLevel } from "../rooms/auth-rules";
import type { RoomEvent } from "../rooms/event-builder";
import type { Pdu } from "../rooms/pdu";
import { ROOM_VERSIONS, isSupportedRoomVersion } from "../rooms/room-versions";
import { getCurrentStateRows } from "../storage/events";
import { getRoom } from "../storage/rooms";
import { createRoom } from "./create-room";
import { roomObject, unwrap } from "./room-client";

/** State carried over to the replacement room (spec: "Room Upgrades", server behaviour). */
const COPIED_STATE = [
  "m.room.server_acl",
  "m.room.encryption",
  "m.room.name",
  "m.room.avatar",
  "m.room.topic",
  "m.room.guest_access",
  "m.room.history_visibility",
  "m.room.join_rules",
];

/**
 * POST /rooms/{roomId}/upgrade: creates the replacement room with the old room's state and power levels, sends
 * the tombstone, and stops ordinary members from talking or inviting in the old room.
 */
export async function upgradeRoom(env: Env, config: Config, requester: Requester, roomId: string, newVersion: string): Promise<string> {
  if (!isSupportedRoomVersion(newVersion)) throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${newVersion}`);
  const room = await getRoom(env.DB, roomId);
  if (!room || !isSupportedRoomVersion(room.room_version)) throw new MatrixError(404, "M_NOT_FOUND", "Unknown room");
  const state = new Map<string, RoomEvent>();
  for (const row of await getCurrentStateRows(env.DB, roomId)) {
    state.set(stateKeyOf(row.type, row.state_key!), { event_id: row.event_id, pdu: JSON.parse(row.pdu) as Pdu });
  }
  const version = room.room_version;
  const contentOf = (type: string) => state.get(stateKeyOf(type, ""))?.pdu.content;
  if (state.get(stateKeyOf("m.room.member", requester.userId))?.pdu.content["membership"] !== "join") {
    throw forbidden("You are not joined to this room");
  }
  if (userPowerLevel(version, requester.userId, state) < requiredPowerLevel(version, "m.room.tombstone", true, state)) {
    throw forbidden("You do not have the power to upgrade this room");
  }

  const powerLevels = { ...(contentOf("m.room.power_levels") ?? {}) };
  const users = { ...((powerLevels["users"] as Record<string, number> | undefined) ?? {}) };
  if (ROOM_VERSIONS[newVersion].creatorsHavePower) delete users[requester.userId];
  powerLevels["users"] = users;

  const oldCreate = contentOf("m.room.create") ?? {};
  const creationContent: Record<string, unknown> = { predecessor: { room_id: roomId } };
  for (const key of ["type", "m.federate"]) if (key in oldCreate) creationContent[key] = oldCreate[key];

  const replacement = await createRoom(env, config, requester, {
    room_version: newVersion,
    creation_content: creationContent,
    initial_state: COPIED_STATE.flatMap((type) => {
      const content = contentOf(type);
      return content ? [{ type, state_key: "", content }] : [];
    }),
    power_level_content_override: powerLevels,
  });

  const old = roomObject(env, roomId);
  unwrap(
    await old.send(roomId, {
      type: "m.room.tombstone",
      state_key: "",
      sender: requester.userId,
      content: { body: "This room has been replaced", replacement_room: replacement },
    }),
  );
  const oldLevels = contentOf("m.room.power_levels") ?? {};
  const restricted = Math.max(50, ((oldLevels["users_default"] as number | undefined) ?? 0) + 1);
  // Best effort: the upgrader may lack the power to change power levels even though they could send the tombstone.
  await old.send(roomId, {
    type: "m.room.power_levels",
    state_key: "",
    sender: requester.userId,
    content: { ...oldLevels, events_default: restricted, invite: restricted },
  });
  return replacement;
}
