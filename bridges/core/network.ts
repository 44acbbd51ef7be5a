import type { PortalKey, RemoteMessageId, RemoteUserId } from "./ids";

/** The Matrix content of one bridged message (m.room.message), as the converters produce it. */
export interface MatrixMessageContent {
  msgtype: "m.text" | "m.notice" | "m.emote";
  body: string;
  format?: "org.matrix.custom.html";
  formatted_body?: string;
}

/** A remote user as the portal shows it: the ghost's display name is set from this before it speaks. */
export interface RemoteSender {
  id: RemoteUserId;
  displayName: string;
}

/**
 * Something that happened on the remote network, already converted by the connector (conversion needs the
 * connector's knowledge, the portal only orders, de-duplicates and sends). Plain data, so it crosses the RPC
 * boundary into the portal's Durable Object.
 */
export interface RemoteMessage {
  kind: "message";
  portalKey: PortalKey;
  sender: RemoteSender;
  messageId: RemoteMessageId;
  /** Milliseconds since the epoch: becomes the event's origin_server_ts (`?ts=`). */
  timestamp: number;
  content: MatrixMessageContent;
}

/** Every kind of remote event the core accepts. Edits, reactions and deletions join this union as they land. */
export type RemoteEvent = RemoteMessage;

/** What a portal room is made from. */
export interface ChatInfo {
  name: string;
  topic?: string;
}

/** A message a Matrix user sent in a portal room, as the connector receives it. */
export interface MatrixMessage {
  eventId: string;
  roomId: string;
  sender: string;
  content: MatrixMessageContent;
}

/** One logged-in account on the remote network (bridgev2's NetworkAPI). */
export interface NetworkApi {
  getChatInfo(key: PortalKey): Promise<ChatInfo>;
  /** Sends to the remote chat; returns the remote id so the echo of our own message is recognised. */
  handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: RemoteMessageId }>;
}

/** Optional capabilities, detected with the type guards below (bridgev2's optional interfaces). */
export interface EditHandlingNetworkApi extends NetworkApi {
  handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void>;
}
export interface ReactionHandlingNetworkApi extends NetworkApi {
  handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void>;
}
export interface RedactionHandlingNetworkApi extends NetworkApi {
  handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void>;
}
export interface TypingHandlingNetworkApi extends NetworkApi {
  handleMatrixTyping(key: PortalKey, typing: boolean): Promise<void>;
}

const hasMethod = (api: NetworkApi, name: string): boolean => typeof (api as unknown as Record<string, unknown>)[name] === "function";
export const canEdit = (api: NetworkApi): api is EditHandlingNetworkApi => hasMethod(api, "handleMatrixEdit");
export const canReact = (api: NetworkApi): api is ReactionHandlingNetworkApi => hasMethod(api, "handleMatrixReaction");
export const canRedact = (api: NetworkApi): api is RedactionHandlingNetworkApi => hasMethod(api, "handleMatrixRedaction");
export const canType = (api: NetworkApi): api is TypingHandlingNetworkApi => hasMethod(api, "handleMatrixTyping");

/** How a bridge appears on Matrix: its appservice identity and who it bridges for. */
export interface BridgeIdentity {
  /** The appservice's as_token (the registration's, resolved from a secret). */
  asToken: string;
  hsToken: string;
  serverName: string;
  /** Localpart of the bridge bot: the registration's sender_localpart. */
  botLocalpart: string;
  /** Localpart of a remote user's ghost; must be inside the registration's user namespace. */
  ghostLocalpart(id: RemoteUserId): string;
  /** The one person this deployment bridges for: invited to every portal. */
  owner: string;
  /** For m.bridge / uk.half-shot.bridge state. */
  protocol: { id: string; displayname: string };
}

/** A network's connector (bridgev2's NetworkConnector): configuration, and an API for the configured login. */
export interface NetworkConnector {
  readonly networkId: string;
  /** The bridge's identity, or null when the bridge is not enabled. Throws on a bad setting, naming it. */
  identity(env: Env): BridgeIdentity | null;
  loadApi(env: Env): NetworkApi;
}
