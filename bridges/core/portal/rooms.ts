// The createRoom requests of portal rooms and spaces, and their m.space.child content (pure).
import type { PortalKey } from "../ids";
import type { BridgeIdentity, ChatInfo, SpaceInfo } from "../network";

type StateEvent = { type: string; state_key: string; content: Record<string, unknown> };

/** MSC2346's m.bridge and its unstable twin, which Element still reads for the bridge info panel. */
export function bridgeState(identity: BridgeIdentity, key: PortalKey, displayname: string): StateEvent[] {
  const bot = `@${identity.botLocalpart}:${identity.serverName}`;
  const content = { bridgebot: bot, creator: bot, protocol: identity.protocol, channel: { id: key, displayname } };
  const stateKey = `${identity.protocol.id}://${identity.protocol.id}/${key}`;
  return [
    { type: "m.bridge", state_key: stateKey, content },
    { type: "uk.half-shot.bridge", state_key: stateKey, content },
  ];
}

const avatarState = (mxc: string | undefined): StateEvent[] => (mxc === undefined ? [] : [{ type: "m.room.avatar", state_key: "", content: { url: mxc } }]);

/**
 * A chat's room, created by the bot with the person invited, not force-joined: they decide to accept. A DM is
 * `is_direct` with trusted_private_chat (their client records m.direct on accepting); a chat in a space names it
 * as its canonical m.space.parent.
 */
export function portalRoomRequest(identity: BridgeIdentity, key: PortalKey, info: ChatInfo, extra: { avatarMxc?: string; spaceRoomId?: string }): Record<string, unknown> {
  const parent: StateEvent[] =
    extra.spaceRoomId === undefined ? [] : [{ type: "m.space.parent", state_key: extra.spaceRoomId, content: { via: [identity.serverName], canonical: true } }];
  return {
    preset: info.isDirect === true ? "trusted_private_chat" : "private_chat",
    ...(info.isDirect === true ? { is_direct: true } : {}),
    name: info.name,
    ...(info.topic !== undefined && info.topic !== "" ? { topic: info.topic } : {}),
    invite: [identity.owner],
    initial_state: [...bridgeState(identity, key, info.name), ...avatarState(extra.avatarMxc), ...parent],
  };
}

/** A remote server's or workspace's space: a room of type m.space, the person invited. */
export function spaceRoomRequest(identity: BridgeIdentity, info: SpaceInfo, avatarMxc: string | undefined): Record<string, unknown> {
  return {
    preset: "private_chat",
    creation_content: { type: "m.space" },
    name: info.name,
    ...(info.topic !== undefined && info.topic !== "" ? { topic: info.topic } : {}),
    invite: [identity.owner],
    initial_state: [...bridgeState(identity, info.key, info.name), ...avatarState(avatarMxc)],
  };
}

/** The m.space.child content that lists a chat's room in its space (state_key: the room id). */
export function spaceChildContent(serverName: string, order: string | undefined): Record<string, unknown> {
  return { via: [serverName], ...(order !== undefined ? { order } : {}) };
}
