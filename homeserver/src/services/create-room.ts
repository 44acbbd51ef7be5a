import { z } from "zod";
import type { Config } from "../config";
import { MatrixError, badJson } from "../http/errors";
import type { Requester } from "../http/types";
import { type EventTemplate, InvalidEvent, buildEvent } from "../rooms/event-builder";
import { roomIdFromCreateEvent } from "../rooms/event-hashes";
import type { RoomVersionId } from "../rooms/pdu";
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS, isSupportedRoomVersion } from "../rooms/room-versions";
import { getProfile } from "../storage/profiles";
import { randomAlnum } from "../util/random";
import { parseUserId } from "./identifiers";
import { roomObject, unwrap } from "./room-client";
import { serverSigningKey } from "./server-keys";
import { checkStateContent } from "./state-content";
import { claimAlias, releaseAlias } from "./aliases";
import { checkAliasAllowed } from "../appservice/policy";
import { setRoomPublished } from "../storage/rooms";

const StateEventInput = z.object({ type: z.string().min(1).max(255), state_key: z.string().default(""), content: z.record(z.string(), z.unknown()) });

export const CreateRoomBody = z.object({
  visibility: z.enum(["public", "private"]).optional(),
  room_alias_name: z.string().min(1).max(200).optional(),
  name: z.string().max(255).optional(),
  topic: z.string().max(4096).optional(),
  invite: z.array(z.string()).max(100).optional(),
  invite_3pid: z.array(z.unknown()).max(0, "third-party invites are not supported").optional(),
  room_version: z.string().optional(),
  creation_content: z.record(z.string(), z.unknown()).optional(),
  initial_state: z.array(StateEventInput).max(100).optional(),
  preset: z.enum(["private_chat", "public_chat", "trusted_private_chat"]).optional(),
  is_direct: z.boolean().optional(),
  power_level_content_override: z.record(z.string(), z.unknown()).optional(),
});
export type CreateRoomBody = z.infer<typeof CreateRoomBody>;

/** POST /createRoom: the create event, then the events the spec lists in its order, committed as one batch. */
export async function createRoom(env: Env, config: Config, requester: Requester, body: CreateRoomBody): Promise<string> {
  const version = body.room_version ?? DEFAULT_ROOM_VERSION;
  if (!isSupportedRoomVersion(version)) throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${version}`);
  for (const invitee of body.invite ?? []) {
    if (!parseUserId(invitee)) throw new MatrixError(400, "M_INVALID_PARAM", `Invalid user id to invite: ${invitee}`);
  }
  const alias = body.room_alias_name === undefined ? undefined : aliasFor(body.room_alias_name, config.SERVER_NAME);
  if (alias) checkAliasAllowed(env, requester, alias);

  const templates = await eventsAfterCreate(env, requester.userId, version, body, alias);
  let roomId: string;
  for (let attempt = 0; ; attempt++) {
    const create = await buildCreateEvent(env, config, requester.userId, version, body.creation_content ?? {}, Date.now() + attempt).catch(
      (err: unknown) => {
        if (err instanceof InvalidEvent) throw new MatrixError(err.status, err.errcode, err.message);
        throw err;
      },
    );
    roomId = ROOM_VERSIONS[version].roomIdFromCreateEvent ? roomIdFromCreateEvent(create.event_id) : create.pdu.room_id!;
    if (alias) await claimAlias(env.DB, alias, roomId, requester.userId);
    const created = await roomObject(env, roomId)
      .createRoom(roomId, version, create, templates)
      .catch(async (err: unknown) => {
        if (alias) await releaseAlias(env.DB, alias);
        throw err;
      });
    if (created.ok) break;
    if (alias) await releaseAlias(env.DB, alias);
    // Identical create events (same creator and content in the same millisecond) hash to the same v12 room id:
    // a later timestamp makes another room.
    if (created.errcode !== "M_ROOM_IN_USE" || attempt >= 4) unwrap(created);
  }
  if (body.visibility === "public") await setRoomPublished(env.DB, roomId, true);
  return roomId;
}

function aliasFor(localpart: string, serverName: string): string {
  if (/[:#\s]/.test(localpart)) throw new MatrixError(400, "M_INVALID_PARAM", "room_alias_name may not contain ':', '#' or whitespace");
  return `#${localpart}:${serverName}`;
}

async function buildCreateEvent(
  env: Env,
  config: Config,
  sender: string,
  version: RoomVersionId,
  creationContent: Record<string, unknown>,
  ts: number,
) {
  const rules = ROOM_VERSIONS[version];
  const content: Record<string, unknown> = { ...creationContent, room_version: version };
  if (rules.createContentHasCreator) content["creator"] = sender;
  else delete content["creator"];
  const key = await serverSigningKey(env.DB);
  return buildEvent(
    {
      roomId: rules.roomIdFromCreateEvent ? undefined : `!${randomAlnum(18)}:${config.SERVER_NAME}`,
      version,
      state: new Map(),
      prev: null,
      serverName: config.SERVER_NAME,
      key,
      ts,
    },
    { type: "m.room.create", state_key: "", sender, content },
  );
}

/** The templates that follow m.room.create, in the order the spec gives for POST /createRoom. */
async function eventsAfterCreate(
  env: Env,
  creator: string,
  version: RoomVersionId,
  body: CreateRoomBody,
  alias: string | undefined,
): Promise<EventTemplate[]> {
  const preset = body.preset ?? (body.visibility === "public" ? "public_chat" : "private_chat");
  const profile = await getProfile(env.DB, creator);
  const state = (type: string, content: Record<string, unknown>, stateKey = ""): EventTemplate => ({ type, state_key: stateKey, sender: creator, content });

  const templates: EventTemplate[] = [
    state("m.room.member", withoutNulls({ membership: "join", displayname: profile?.displayname, avatar_url: profile?.avatar_url }), creator),
    state("m.room.power_levels", powerLevels(version, creator, preset, body)),
  ];
  if (alias) templates.push(state("m.room.canonical_alias", { alias }));
  templates.push(state("m.room.join_rules", { join_rule: preset === "public_chat" ? "public" : "invite" }));
  templates.push(state("m.room.history_visibility", { history_visibility: "shared" }));
  templates.push(state("m.room.guest_access", { guest_access: preset === "public_chat" ? "forbidden" : "can_join" }));
  for (const e of body.initial_state ?? []) {
    if (e.type === "m.room.create" || e.type === "m.room.member") throw badJson(`initial_state may not contain ${e.type}`);
    checkStateContent(e.type, e.content);
    // A later entry for the same (type, state_key) overrides the preset's one.
    const existing = templates.findIndex((t) => t.type === e.type && t.state_key === e.state_key);
    if (existing > 0) templates.splice(existing, 1);
    templates.push(state(e.type, e.content, e.state_key));
  }
  if (body.name !== undefined) templates.push(state("m.room.name", { name: body.name }));
  if (body.topic !== undefined) {
    templates.push(state("m.room.topic", { topic: body.topic, "m.topic": [{ body: body.topic, mimetype: "text/plain" }] }));
  }
  for (const invitee of body.invite ?? []) {
    const content: Record<string, unknown> = { membership: "invite" };
    if (body.is_direct) content["is_direct"] = true;
    templates.push(state("m.room.member", content, invitee));
  }
  return templates;
}

function powerLevels(version: RoomVersionId, creator: string, preset: string, body: CreateRoomBody): Record<string, unknown> {
  const users: Record<string, number> = {};
  // v12 creators have infinite power and must not be listed.
  if (!ROOM_VERSIONS[version].creatorsHavePower) users[creator] = 100;
  if (preset === "trusted_private_chat") for (const invitee of body.invite ?? []) users[invitee] = 100;
  const content: Record<string, unknown> = {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      "m.room.tombstone": 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    historical: 100,
    ...(body.power_level_content_override ?? {}),
  };
  checkStateContent("m.room.power_levels", content);
  return content;
}

function withoutNulls(content: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(content).filter(([, v]) => v !== null && v !== undefined));
}
