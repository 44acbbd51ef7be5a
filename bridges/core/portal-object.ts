import { DurableObject } from "cloudflare:workers";
import { connectorFor } from "./connectors";
import type { PortalKey } from "./ids";
import { homeserverFetch } from "./matrix/homeserver";
import { MatrixIntent } from "./matrix/intent";
import { mediaContent } from "./matrix/media";
import { remoteMessageId } from "./ids";
import {
  type BridgeIdentity,
  type MatrixChange,
  type MatrixMessage,
  type NetworkConnector,
  type RemoteActor,
  type RemoteAttachment,
  type RemoteChange,
  type RemoteEvent,
  canEdit,
  canReact,
  canRedact,
  canUnreact,
} from "./network";
import { MetaTable, SerialQueue, ensureSchema } from "../../homeserver/src/util/durable-sqlite";

const SCHEMA_VERSION = 2;
/** Largest remote file brought into the media repository (read into memory on the way). */
const MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024;

/** One row of the message map: a remote message (part) and the Matrix event that carries it. */
export interface MessageMapRow {
  remoteId: string;
  part: number;
  eventId: string;
  roomId: string;
  /** "remote": bridged from the network; "matrix": sent from Matrix (its echo must not come back). */
  origin: "remote" | "matrix";
}

/** One row of the reaction map: who reacted to which remote message with what, and the m.reaction event. */
export interface ReactionMapRow {
  remoteId: string;
  /** The remote user id (remote reactions) or the Matrix user id (reactions sent from Matrix). */
  sender: string;
  emoji: string;
  eventId: string;
  roomId: string;
  origin: "remote" | "matrix";
}

export interface RemoteEventResult {
  roomId: string;
  eventId: string;
  /** True when the remote message was already bridged (our own echo, or a redelivery): nothing was sent. */
  duplicate: boolean;
}

/**
 * One remote chat (bridgev2's portal): its Matrix room, its ghosts' membership and its message map, in this
 * object's SQLite. Every event of the chat, from either side, runs through one serialized queue, so order holds
 * and the echo of a message we sent is always checked after its remote id is stored.
 */
export class PortalObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;
  private readonly queue = new SerialQueue();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS message_map (
          remote_id TEXT NOT NULL, part INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
          origin TEXT NOT NULL, PRIMARY KEY (remote_id, part));
        CREATE TABLE IF NOT EXISTS ghosts (user_id TEXT PRIMARY KEY, displayname TEXT NOT NULL, joined INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS reaction_map (
          remote_id TEXT NOT NULL, sender TEXT NOT NULL, emoji TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
          origin TEXT NOT NULL, PRIMARY KEY (remote_id, sender, emoji));
      `);
    });
  }

  /**
   * A remote event of this chat: creates the room on first use, then bridges it as its sender's ghost: its text
   * (part 0, when there is any) and each attachment (parts 1..n), each part once.
   */
  async handleRemoteEvent(networkId: string, event: RemoteEvent): Promise<RemoteEventResult> {
    return this.queue.run(async () => {
      const done = this.rows("SELECT * FROM message_map WHERE remote_id = ? ORDER BY part", event.messageId);
      const attachments = event.attachments ?? [];
      const parts = (event.content.body !== "" ? [0] : []).concat(attachments.map((_, i) => i + 1));
      const first = done[0];
      if (first && parts.every((p) => done.some((d) => d.part === p))) return { roomId: first.roomId, eventId: first.eventId, duplicate: true };
      const { connector, identity, intent } = this.setup(networkId);
      const roomId = await this.ensureRoom(connector, identity, intent, event.portalKey);
      const ghost = await this.ensureGhost(identity, intent, roomId, event.sender);
      const replyTo = event.replyTo === undefined ? undefined : this.mapped("remote_id", event.replyTo);
      const relates = replyTo ? { "m.relates_to": { "m.in_reply_to": { event_id: replyTo.eventId } } } : {};
      const sent: string[] = [];
      for (const part of parts) {
        const already = done.find((d) => d.part === part);
        if (already) {
          sent.push(already.eventId);
          continue;
        }
        // The remote id as txnId: a retry after a crash is de-duplicated by the homeserver too.
        const txnId = part === 0 ? `remote.${event.messageId}` : `remote.${event.messageId}.${part}`;
        const content = part === 0 ? event.content : await this.attachmentContent(intent, ghost, attachments[part - 1]!);
        // The reply relation on the first event only.
        const eventId = await intent.sendMessage(ghost, roomId, sent.length === 0 ? { ...content, ...relates } : content, event.timestamp, txnId);
        this.sql.exec(
          "INSERT INTO message_map (remote_id, part, event_id, room_id, origin) VALUES (?, ?, ?, ?, 'remote')",
          event.messageId,
          part,
          eventId,
          roomId,
        );
        sent.push(eventId);
      }
      return { roomId, eventId: sent[0] ?? "", duplicate: false };
    });
  }

  /**
   * Downloads a remote file and uploads it to the media repository as the ghost (Client-Server API, so the
   * homeserver's own limits apply). A file that cannot be fetched or stored is shown as a link instead.
   */
  private async attachmentContent(intent: MatrixIntent, ghost: string, attachment: RemoteAttachment): Promise<object> {
    try {
      if (attachment.size > MAX_ATTACHMENT_BYTES) throw new Error(`${attachment.size} bytes is over the limit`);
      const res = await fetch(attachment.url);
      if (!res.ok) throw new Error(`download answered ${res.status}`);
      const bytes = await res.arrayBuffer();
      const mimetype = attachment.mimetype ?? res.headers.get("content-type") ?? undefined;
      const mxc = await intent.upload(ghost, bytes, mimetype ?? "application/octet-stream", attachment.filename);
      return mediaContent(attachment, mxc, bytes.byteLength, mimetype);
    } catch (err) {
      console.warn(`attachment ${attachment.filename} not uploaded: ${(err as Error).message}`);
      return { msgtype: "m.text", body: `${attachment.filename}: ${attachment.url}` };
    }
  }

  /**
   * A remote change to a bridged message (edit, deletion, reaction) or the chat (typing): applied in order with the
   * messages, as the ghost who made it. Changes to messages we never bridged, and echoes of changes we made from
   * Matrix, do nothing. Returns the Matrix events sent.
   */
  async handleRemoteChange(networkId: string, change: RemoteChange): Promise<{ eventIds: string[] }> {
    return this.queue.run(async () => {
      const roomId = this.store.get("room_id");
      if (roomId === null) return { eventIds: [] };
      const { identity, intent } = this.setup(networkId);
      switch (change.kind) {
        case "edit": {
          const target = this.mapped("remote_id", change.messageId);
          // Our own message's edit comes back from the network: it is already on Matrix.
          if (!target || target.origin === "matrix") return { eventIds: [] };
          const ghost = await this.ensureGhost(identity, intent, roomId, change.sender);
          const star = (text: string) => `* ${text}`;
          const content = {
            msgtype: change.content.msgtype,
            body: star(change.content.body),
            ...(change.content.formatted_body !== undefined ? { format: change.content.format, formatted_body: star(change.content.formatted_body) } : {}),
            "m.new_content": change.content,
            "m.relates_to": { rel_type: "m.replace", event_id: target.eventId },
          };
          return { eventIds: [await intent.sendMessage(ghost, roomId, content, change.timestamp, `edit.${change.messageId}.${change.editId}`)] };
        }
        case "delete": {
          const parts = this.rows("SELECT * FROM message_map WHERE remote_id = ? ORDER BY part", change.messageId);
          const bot = `@${identity.botLocalpart}:${identity.serverName}`;
          const eventIds: string[] = [];
          for (const part of parts) eventIds.push(await intent.redact(bot, part.roomId, part.eventId, `delete.${part.eventId}`));
          this.ctx.storage.transactionSync(() => {
            this.sql.exec("DELETE FROM message_map WHERE remote_id = ?", change.messageId);
            this.sql.exec("DELETE FROM reaction_map WHERE remote_id = ?", change.messageId);
          });
          return { eventIds };
        }
        case "reaction": {
          const target = this.mapped("remote_id", change.messageId);
          if (!target || this.reaction(change.messageId, change.sender.id, change.emoji)) return { eventIds: [] };
          const ghost = await this.ensureGhost(identity, intent, roomId, change.sender);
          const content = { "m.relates_to": { rel_type: "m.annotation", event_id: target.eventId, key: change.emoji } };
          const txnId = `reaction.${change.messageId}.${change.sender.id}.${change.emoji}.${change.timestamp}`;
          const eventId = await intent.sendEvent(ghost, roomId, "m.reaction", content, change.timestamp, txnId);
          this.sql.exec(
            "INSERT INTO reaction_map (remote_id, sender, emoji, event_id, room_id, origin) VALUES (?, ?, ?, ?, ?, 'remote')",
            change.messageId,
            change.sender.id,
            change.emoji,
            eventId,
            roomId,
          );
          return { eventIds: [eventId] };
        }
        case "reaction_remove": {
          const row = this.reaction(change.messageId, change.sender.id, change.emoji);
          if (!row || row.origin !== "remote") return { eventIds: [] };
          const ghost = `@${identity.ghostLocalpart(change.sender.id)}:${identity.serverName}`;
          const eventId = await intent.redact(ghost, row.roomId, row.eventId, `unreact.${row.eventId}`);
          this.sql.exec("DELETE FROM reaction_map WHERE event_id = ?", row.eventId);
          return { eventIds: [eventId] };
        }
        case "typing": {
          const ghost = await this.ensureGhost(identity, intent, roomId, change.sender);
          await intent.setTyping(ghost, roomId, true, change.timeoutMs);
          return { eventIds: [] };
        }
      }
    });
  }

  /** A message the person sent in this portal's room: to the remote chat, once per event id. */
  async handleMatrixMessage(networkId: string, message: MatrixMessage): Promise<{ remoteMessageId: string }> {
    return this.queue.run(async () => {
      const existing = this.mapped("event_id", message.eventId);
      if (existing) return { remoteMessageId: existing.remoteId };
      const key = this.store.get("portal_key");
      if (key === null || this.store.get("room_id") !== message.roomId) throw new Error(`Room ${message.roomId} is not this portal's room`);
      const api = connectorFor(networkId).loadApi(this.env);
      const replyTo = message.replyToEventId === undefined ? undefined : this.mapped("event_id", message.replyToEventId);
      const sent = await api.handleMatrixMessage(key as PortalKey, replyTo ? { ...message, replyTo: remoteMessageId(replyTo.remoteId) } : message);
      this.sql.exec(
        "INSERT INTO message_map (remote_id, part, event_id, room_id, origin) VALUES (?, 0, ?, ?, 'matrix')",
        sent.messageId,
        message.eventId,
        message.roomId,
      );
      return { remoteMessageId: sent.messageId };
    });
  }

  /**
   * An edit, reaction or redaction the person made in this portal's room: to the remote chat, once per event id,
   * when the network can do it. Only our own remote messages are edited or deleted; the remote echo of each change
   * is recognised (the message map and reaction map, updated here before the echo is handled).
   */
  async handleMatrixChange(networkId: string, change: MatrixChange): Promise<{ applied: boolean }> {
    return this.queue.run(async () => {
      const key = this.store.get("portal_key");
      if (key === null || this.store.get("room_id") !== change.roomId) throw new Error(`Room ${change.roomId} is not this portal's room`);
      const portal = key as PortalKey;
      const api = connectorFor(networkId).loadApi(this.env);
      switch (change.kind) {
        case "edit": {
          const target = this.mapped("event_id", change.targetEventId);
          if (!target || target.origin !== "matrix" || !canEdit(api)) return { applied: false };
          await api.handleMatrixEdit(portal, remoteMessageId(target.remoteId), {
            eventId: change.eventId,
            roomId: change.roomId,
            sender: change.sender,
            content: change.content,
          });
          return { applied: true };
        }
        case "reaction": {
          const target = this.mapped("event_id", change.targetEventId);
          if (!target || !canReact(api) || this.reaction(target.remoteId, change.sender, change.key)) return { applied: false };
          await api.handleMatrixReaction(portal, remoteMessageId(target.remoteId), change.key);
          this.sql.exec(
            "INSERT INTO reaction_map (remote_id, sender, emoji, event_id, room_id, origin) VALUES (?, ?, ?, ?, ?, 'matrix')",
            target.remoteId,
            change.sender,
            change.key,
            change.eventId,
            change.roomId,
          );
          return { applied: true };
        }
        case "redaction": {
          const reaction = this.reactionMap().find((r) => r.eventId === change.redacts);
          if (reaction) {
            if (reaction.origin !== "matrix" || !canUnreact(api)) return { applied: false };
            await api.handleMatrixReactionRemove(portal, remoteMessageId(reaction.remoteId), reaction.emoji);
            this.sql.exec("DELETE FROM reaction_map WHERE event_id = ?", reaction.eventId);
            return { applied: true };
          }
          const target = this.mapped("event_id", change.redacts);
          if (!target || target.origin !== "matrix" || !canRedact(api)) return { applied: false };
          await api.handleMatrixRedaction(portal, remoteMessageId(target.remoteId));
          this.ctx.storage.transactionSync(() => {
            this.sql.exec("DELETE FROM message_map WHERE remote_id = ?", target.remoteId);
            this.sql.exec("DELETE FROM reaction_map WHERE remote_id = ?", target.remoteId);
          });
          return { applied: true };
        }
      }
    });
  }

  /** The portal's room id, or null before its first event. */
  roomId(): string | null {
    return this.store.get("room_id");
  }

  messageMap(): MessageMapRow[] {
    return this.rows("SELECT * FROM message_map ORDER BY rowid");
  }

  reactionMap(): ReactionMapRow[] {
    return this.sql
      .exec<{ remote_id: string; sender: string; emoji: string; event_id: string; room_id: string; origin: string }>("SELECT * FROM reaction_map ORDER BY rowid")
      .toArray()
      .map((r) => ({ remoteId: r.remote_id, sender: r.sender, emoji: r.emoji, eventId: r.event_id, roomId: r.room_id, origin: r.origin === "matrix" ? "matrix" : "remote" }));
  }

  private reaction(remoteId: string, sender: string, emoji: string): ReactionMapRow | undefined {
    return this.reactionMap().find((r) => r.remoteId === remoteId && r.sender === sender && r.emoji === emoji);
  }

  private mapped(column: "remote_id" | "event_id", value: string): MessageMapRow | undefined {
    return this.rows(`SELECT * FROM message_map WHERE ${column} = ? ORDER BY part LIMIT 1`, value)[0];
  }

  private rows(query: string, ...bindings: string[]): MessageMapRow[] {
    return this.sql
      .exec<{ remote_id: string; part: number; event_id: string; room_id: string; origin: string }>(query, ...bindings)
      .toArray()
      .map((r) => ({ remoteId: r.remote_id, part: r.part, eventId: r.event_id, roomId: r.room_id, origin: r.origin === "matrix" ? "matrix" : "remote" }));
  }

  private setup(networkId: string): { connector: NetworkConnector; identity: BridgeIdentity; intent: MatrixIntent } {
    const connector = connectorFor(networkId);
    const identity = connector.identity(this.env);
    if (!identity) throw new Error(`The ${networkId} bridge is not enabled`);
    const intent = new MatrixIntent(homeserverFetch(this.ctx), this.env.PUBLIC_BASEURL, identity.asToken);
    return { connector, identity, intent };
  }

  private async ensureRoom(connector: NetworkConnector, identity: BridgeIdentity, intent: MatrixIntent, key: PortalKey): Promise<string> {
    const known = this.store.get("room_id");
    if (known !== null) return known;
    const info = await connector.loadApi(this.env).getChatInfo(key);
    const bot = `@${identity.botLocalpart}:${identity.serverName}`;
    // MSC2346's m.bridge and its unstable twin, which Element still reads for the bridge info panel.
    const bridgeInfo = {
      bridgebot: bot,
      creator: bot,
      protocol: identity.protocol,
      channel: { id: key, displayname: info.name },
    };
    const stateKey = `${identity.protocol.id}://${identity.protocol.id}/${key}`;
    const roomId = await intent.createRoom(bot, {
      preset: "private_chat",
      name: info.name,
      ...(info.topic ? { topic: info.topic } : {}),
      // Invited, not force-joined: the person decides to accept the portal.
      invite: [identity.owner],
      initial_state: [
        { type: "m.bridge", state_key: stateKey, content: bridgeInfo },
        { type: "uk.half-shot.bridge", state_key: stateKey, content: bridgeInfo },
      ],
    });
    this.ctx.storage.transactionSync(() => {
      this.store.set("room_id", roomId);
      this.store.set("portal_key", key);
    });
    return roomId;
  }

  /** The ghost exists, has its display name (before its first message) and is joined to the room. */
  private async ensureGhost(identity: BridgeIdentity, intent: MatrixIntent, roomId: string, sender: RemoteActor): Promise<string> {
    const localpart = identity.ghostLocalpart(sender.id);
    const userId = `@${localpart}:${identity.serverName}`;
    const known = this.sql.exec<{ displayname: string; joined: number }>("SELECT displayname, joined FROM ghosts WHERE user_id = ?", userId).toArray()[0];
    if (!known) await intent.ensureRegistered(localpart);
    if (sender.displayName !== undefined && known?.displayname !== sender.displayName) await intent.setDisplayName(userId, sender.displayName);
    if (known?.joined !== 1) {
      await intent.invite(`@${identity.botLocalpart}:${identity.serverName}`, roomId, userId);
      await intent.join(userId, roomId);
    }
    this.sql.exec(
      "INSERT INTO ghosts (user_id, displayname, joined) VALUES (?, ?, 1) ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname, joined = 1",
      userId,
      sender.displayName ?? known?.displayname ?? "",
    );
    return userId;
  }
}
