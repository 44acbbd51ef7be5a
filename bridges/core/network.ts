import type { PortalKey, RemoteMessageId, RemoteUserId } from "./ids";

/** The Matrix content of one bridged message (m.room.message), as the converters produce it. */
export interface MatrixMessageContent {
  msgtype: "m.text" | "m.notice" | "m.emote";
  body: string;
  format?: "org.matrix.custom.html";
  formatted_body?: string;
  /** Who the message pings (ghosts of mentioned remote users, the person), and whether it pings the room. */
  "m.mentions"?: { user_ids?: string[]; room?: boolean };
}

/** A file on the remote network: downloaded by the portal and uploaded to the media repository as the sender. */
export interface RemoteAttachment {
  url: string;
  filename: string;
  mimetype?: string;
  size: number;
  width?: number;
  height?: number;
}

/** A remote user as the portal shows it: the ghost's display name is set from this before it speaks. */
export interface RemoteSender {
  id: RemoteUserId;
  displayName: string;
  /** The remote avatar's URL: downloaded once per distinct URL and set as the ghost's avatar_url. */
  avatarUrl?: string;
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
  /** The remote message this one answers: becomes `m.relates_to.m.in_reply_to` when it is mapped. */
  replyTo?: RemoteMessageId;
  /** Files sent with the message: one event each after the text (parts 1..n; part 0 is the text, when there is any). */
  attachments?: RemoteAttachment[];
  /** The remote thread's root message: every part becomes `rel_type: m.thread` of the root's Matrix event. */
  threadRoot?: RemoteMessageId;
}

/** Every kind of remote event that creates a message. */
export type RemoteEvent = RemoteMessage;

/** A remote user acting on a message: the name is known for some events only (a reaction in a DM has none). */
export interface RemoteActor {
  id: RemoteUserId;
  displayName?: string;
}

/** A remote message's new text: an `m.replace` edit of the event that carries it. */
export interface RemoteEdit {
  kind: "edit";
  portalKey: PortalKey;
  sender: RemoteSender;
  messageId: RemoteMessageId;
  /** Tells two edits of one message apart (Discord's edited_timestamp): a redelivered edit is sent once. */
  editId: string;
  timestamp: number;
  content: MatrixMessageContent;
}

/** A remote message deleted: every event that carries it is redacted. */
export interface RemoteDeletion {
  kind: "delete";
  portalKey: PortalKey;
  messageId: RemoteMessageId;
}

/** A reaction added to (or removed from) a remote message, keyed by the emoji as text. */
export interface RemoteReaction {
  kind: "reaction" | "reaction_remove";
  portalKey: PortalKey;
  sender: RemoteActor;
  messageId: RemoteMessageId;
  /** The reaction key: a unicode emoji, or a custom emoji's image as an mxc:// URI (then with its shortcode). */
  emoji: string;
  /** A custom emoji's `:name:`: sent as `com.beeper.reaction.shortcode`, which clients show for an image key. */
  shortcode?: string;
  timestamp: number;
}

/** A remote user started typing. */
export interface RemoteTyping {
  kind: "typing";
  portalKey: PortalKey;
  sender: RemoteActor;
  timeoutMs: number;
}

/** A remote user joined or left the chat: their ghost (named, with its avatar) joins or leaves the portal room. */
export interface RemoteMembership {
  kind: "membership";
  portalKey: PortalKey;
  sender: RemoteSender;
  membership: "join" | "leave";
  timestamp: number;
}

/**
 * A remote user's name or avatar changed without a message (a nickname or avatar change): their ghost follows,
 * if it is already in this portal's room (it is never joined for this).
 */
export interface RemoteGhostProfile {
  kind: "ghost_profile";
  portalKey: PortalKey;
  sender: RemoteSender;
}

/** The chat's pinned messages now, in the order they were pinned: the room's `m.room.pinned_events` follows. */
export interface RemotePins {
  kind: "pins";
  portalKey: PortalKey;
  messageIds: RemoteMessageId[];
}

/** Remote events about existing messages, the chat or its members: they never create the portal room. */
export type RemoteChange = RemoteEdit | RemoteDeletion | RemoteReaction | RemoteTyping | RemoteMembership | RemoteGhostProfile | RemotePins;

/** What a portal room is made from. */
export interface ChatInfo {
  name: string;
  topic?: string;
  /** The chat's icon URL: downloaded and set as the room's m.room.avatar. */
  avatarUrl?: string;
  /** A one-to-one or group DM: created with `is_direct`, so the person's client lists it under people. */
  isDirect?: boolean;
  /** The remote server / workspace the chat belongs to: its space gets this room as a child. */
  space?: SpaceInfo;
}

/** A remote server or workspace: one Matrix space (a room of type m.space) holding its chats' rooms. */
export interface SpaceInfo {
  key: PortalKey;
  name: string;
  topic?: string;
  avatarUrl?: string;
  /** m.space.child `order` of this chat in the space (e.g. category then position). */
  order?: string;
}

/** A message a Matrix user sent in a portal room, as the connector receives it. */
export interface MatrixMessage {
  eventId: string;
  roomId: string;
  sender: string;
  content: MatrixMessageContent;
  /** The Matrix event this message answers (`m.in_reply_to`), as the connector receives it. */
  replyToEventId?: string;
  /** That event's remote message, filled in by the portal when it is mapped. */
  replyTo?: RemoteMessageId;
  /** The thread root event (`rel_type: m.thread`), as the connector receives it. */
  threadRootEventId?: string;
  /** That root's remote message, filled in by the portal when it is mapped. */
  threadRoot?: RemoteMessageId;
  /** An m.image / m.video / m.audio / m.file: the portal downloads it (as the bot) and fills in `bytes`. */
  media?: MatrixMedia;
}

/** A file the person sent from Matrix. The message's `content` is its caption (body "" when there is none). */
export interface MatrixMedia {
  mxc: string;
  filename: string;
  mimetype?: string;
  bytes?: ArrayBuffer;
}

/** A change the person made in a portal room to a bridged message: an edit, a reaction, or a redaction. */
export type MatrixChange =
  | { kind: "edit"; eventId: string; roomId: string; sender: string; targetEventId: string; content: MatrixMessageContent }
  | { kind: "reaction"; eventId: string; roomId: string; sender: string; targetEventId: string; key: string }
  | { kind: "redaction"; eventId: string; roomId: string; sender: string; redacts: string };

/** What a message sent to the remote network became there. */
export interface SentMessage {
  /** The remote message that stands for the Matrix event (edits, replies and reactions address this one). */
  messageId: RemoteMessageId;
  /**
   * The further remote messages it became, in order, when the network took it as several (a length limit): their
   * echoes are recognised as ours, a gap fill starts after the last, and a redaction deletes them all.
   */
  extraMessageIds?: RemoteMessageId[];
}

/** One logged-in account on the remote network (bridgev2's NetworkAPI). */
export interface NetworkApi {
  getChatInfo(key: PortalKey): Promise<ChatInfo>;
  /** Sends to the remote chat; returns the remote id so the echo of our own message is recognised. */
  handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<SentMessage>;
}

/** Optional capabilities, detected with the type guards below (bridgev2's optional interfaces). */
export interface EditHandlingNetworkApi extends NetworkApi {
  handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void>;
}
export interface ReactionHandlingNetworkApi extends NetworkApi {
  handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void>;
}
export interface ReactionRemovingNetworkApi extends NetworkApi {
  handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void>;
}
export interface RedactionHandlingNetworkApi extends NetworkApi {
  handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void>;
}
export interface TypingHandlingNetworkApi extends NetworkApi {
  handleMatrixTyping(key: PortalKey, typing: boolean): Promise<void>;
}
export interface ReadReceiptHandlingNetworkApi extends NetworkApi {
  handleMatrixReadReceipt(key: PortalKey, target: RemoteMessageId): Promise<void>;
}
/** Downloads a remote file (attachment, avatar) itself, e.g. with the network's credentials; without it, a plain fetch. */
export interface MediaDownloadingNetworkApi extends NetworkApi {
  downloadRemoteMedia(url: string): Promise<Response>;
}
/** Backfill and gap fill: the chat's messages after `after` (null: the newest `limit`), oldest first. */
export interface BackfillingNetworkApi extends NetworkApi {
  fetchMessages(key: PortalKey, after: RemoteMessageId | null, limit: number): Promise<RemoteMessage[]>;
}

const hasMethod = (api: NetworkApi, name: string): boolean => typeof (api as unknown as Record<string, unknown>)[name] === "function";
export const canEdit = (api: NetworkApi): api is EditHandlingNetworkApi => hasMethod(api, "handleMatrixEdit");
export const canReact = (api: NetworkApi): api is ReactionHandlingNetworkApi => hasMethod(api, "handleMatrixReaction");
export const canUnreact = (api: NetworkApi): api is ReactionRemovingNetworkApi => hasMethod(api, "handleMatrixReactionRemove");
export const canRedact = (api: NetworkApi): api is RedactionHandlingNetworkApi => hasMethod(api, "handleMatrixRedaction");
export const canType = (api: NetworkApi): api is TypingHandlingNetworkApi => hasMethod(api, "handleMatrixTyping");
export const canMarkRead = (api: NetworkApi): api is ReadReceiptHandlingNetworkApi => hasMethod(api, "handleMatrixReadReceipt");
export const canBackfill = (api: NetworkApi): api is BackfillingNetworkApi => hasMethod(api, "fetchMessages");
export const canDownloadMedia = (api: NetworkApi): api is MediaDownloadingNetworkApi => hasMethod(api, "downloadRemoteMedia");

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
  /** How many recent messages a new portal room starts with (fetchMessages); 0 or absent: none. */
  backfillLimit?: number;
  /** The largest file carried either way, in bytes (the network's own limit); at most, and by default, 50 MB. */
  maxMediaBytes?: number;
}

/** A network's connector (bridgev2's NetworkConnector): configuration, and an API for the configured login. */
export interface NetworkConnector {
  readonly networkId: string;
  /** The bridge's identity, or null when the bridge is not enabled. Throws on a bad setting, naming it. */
  identity(env: Env): BridgeIdentity | null;
  loadApi(env: Env): NetworkApi;
}
