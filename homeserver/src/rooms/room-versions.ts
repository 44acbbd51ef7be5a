/**
 * The room versions this server supports (spec: rooms/v10.md, v11.md, v12.md) and what differs between them.
 *
 * Shared by all three, so not in the table: event ids are reference hashes (v4), canonical JSON is enforced (v6),
 * knocking (v7), restricted joins (v8, v9), `knock_restricted` and integer-only power levels (v10).
 */
import type { RoomVersionId } from "./pdu";

export interface RoomVersion {
  readonly id: RoomVersionId;
  /** Which redaction algorithm applies: rooms/fragments/v9-redactions.md or v11-redactions.md. */
  readonly redaction: "v9" | "v11";
  /** v11+: `m.room.redaction` names its target in `content.redacts`, not in a top-level `redacts`. */
  readonly redactsInContent: boolean;
  /** v10 only: `m.room.create` content must carry `creator`; from v11 the creator is the create event's sender. */
  readonly createContentHasCreator: boolean;
  /**
   * v12: the room id is the create event's id with `!` for `$`; the create event has no `room_id` and is never
   * listed in `auth_events`.
   */
  readonly roomIdFromCreateEvent: boolean;
  /**
   * v12: the creators (create event sender plus `content.additional_creators`) have infinite power and may not
   * appear in `m.room.power_levels` `users`.
   */
  readonly creatorsHavePower: boolean;
  /** v12 starts the iterative auth checks from an empty state map and adds the conflicted state subgraph. */
  readonly stateResolution: "v2" | "v2.1";
}

export const ROOM_VERSIONS: Readonly<Record<RoomVersionId, RoomVersion>> = {
  "10": {
    id: "10",
    redaction: "v9",
    redactsInContent: false,
    createContentHasCreator: true,
    roomIdFromCreateEvent: false,
    creatorsHavePower: false,
    stateResolution: "v2",
  },
  "11": {
    id: "11",
    redaction: "v11",
    redactsInContent: true,
    createContentHasCreator: false,
    roomIdFromCreateEvent: false,
    creatorsHavePower: false,
    stateResolution: "v2",
  },
  "12": {
    id: "12",
    redaction: "v11",
    redactsInContent: true,
    createContentHasCreator: false,
    roomIdFromCreateEvent: true,
    creatorsHavePower: true,
    stateResolution: "v2.1",
  },
};

/** rooms/_index.md: "Servers SHOULD use room version 12 as the default room version when creating new rooms." */
export const DEFAULT_ROOM_VERSION: RoomVersionId = "12";

export function isSupportedRoomVersion(id: string): id is RoomVersionId {
  return Object.hasOwn(ROOM_VERSIONS, id);
}

/** The `m.room_versions` capability of GET /_matrix/client/v3/capabilities. */
export interface RoomVersionsCapability {
  default: RoomVersionId;
  available: Record<string, "stable" | "unstable">;
}

export function roomVersionsCapability(): RoomVersionsCapability {
  const available: Record<string, "stable"> = {};
  for (const id of Object.keys(ROOM_VERSIONS)) available[id] = "stable";
  return { default: DEFAULT_ROOM_VERSION, available };
}
