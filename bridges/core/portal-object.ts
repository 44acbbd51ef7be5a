import { DurableObject } from "cloudflare:workers";
import { connectorFor } from "./connectors";
import { TooLargeError } from "./download";
import { type PortalKey, remoteMessageId } from "./ids";
import { homeserverFetch } from "./matrix/homeserver";
import {
  type ChatInfo,
  type MatrixChange,
  type MatrixMessage,
  type RemoteActor,
  type RemoteChange,
  type RemoteEvent,
  type SpaceInfo,
  canBackfill,
  canEdit,
  canMarkRead,
  canReact,
  canRedact,
  canType,
  canUnreact,
} from "./network";
import { type Bridge, bridgeFor } from "./portal/bridge";
import { relatesTo } from "./portal/relations";
import { attachmentContent, uploadImage } from "./portal/remote-media";
import { portalRoomRequest, spaceChildContent, spaceRoomRequest } from "./portal/rooms";
import { portalStub } from "./portals";
import { MetaTable, SerialQueue, ensureSchema } from "../../homeserver/src/util/durable-sqlite";

const SCHEMA_VERSION = 4;

/** One row of the message map: a remote message (part) and the Matrix event that carries it. */
export interface MessageMapRow {
  remoteId: string;
  part: number;
  eventId: string;
  roomId: string;
  /** "remote": bridged from the network; "matrix": sent from Matrix (its echo must not come back). */
  origin: "remote" | "matrix";
  /** The remote thread root this message belongs to, if any. */
  threadRoot: string | null;
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

/** What a portal last set of a ghost, and whether the ghost is in its room. */
type GhostRow = { displayname: string; joined: number; avatar_source: string | null };

export interface RemoteEventResult {
  roomId: string;
  eventId: string;
  /** True when the message was already bridged (our own echo, a redelivery, or the backfill that opened the room). */
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
    this.ctx.storage.transactionSync(() =>
      ensureSchema(this.store, SCHEMA_VERSION, () => {
        const from = Number(this.store.get("schema_version") ?? "0");
        this.sql.exec(`
          CREATE TABLE IF NOT EXISTS message_map (
            remote_id TEXT NOT NULL, part INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
            origin TEXT NOT NULL, PRIMARY KEY (remote_id, part));
          CREATE TABLE IF NOT EXISTS ghosts (user_id TEXT PRIMARY KEY, displayname TEXT NOT NULL, joined INTEGER NOT NULL);
          CREATE TABLE IF NOT EXISTS reaction_map (
            remote_id TEXT NOT NULL, sender TEXT NOT NULL, emoji TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
            origin TEXT NOT NULL, PRIMARY KEY (remote_id, sender, emoji));
        `);
        // Version 3: a ghost's avatar source URL (uploaded once per URL), a message's thread root.
        if (from < 3) this.sql.exec("ALTER TABLE ghosts ADD COLUMN avatar_source TEXT; ALTER TABLE message_map ADD COLUMN thread_root TEXT;");
        // Version 4: the further remote messages one Matrix message became (SentMessage.extraMessageIds).
        this.sql.exec("CREATE TABLE IF NOT EXISTS extra_remote_ids (remote_id TEXT PRIMARY KEY, main_remote_id TEXT NOT NULL)");
      }),
    );
  }

  /**
   * A remote event of this chat: creates the room on first use, then bridges it as its sender's ghost: its text
   * (part 0, when there is any) and each attachment (parts 1..n), each part once.
   */
  async handleRemoteEvent(networkId: string, event: RemoteEvent): Promise<RemoteEventResult> {
    return this.queue.run(async () => this.bridgeRemote(this.setup(networkId), event));
  }

  /**
   * Backfill and gap fill, in the chat's queue: the connector's messages after the newest one bridged (the newest
   * `limit` when none is), bridged like live ones (each once, at its own time). Nothing before the room exists.
   */
  async backfill(networkId: string, limit: number): Promise<{ sent: number }> {
    return this.queue.run(async () => this.fill(this.setup(networkId), limit));
  }

  private async fill(bridge: Bridge, limit: number): Promise<{ sent: number }> {
    const key = this.store.get("portal_key");
    if (key === null || limit <= 0 || !canBackfill(bridge.api)) return { sent: 0 };
    const after = this.store.get("last_remote_id");
    const messages = await bridge.api.fetchMessages(key as PortalKey, after === null ? null : remoteMessageId(after), limit);
    let sent = 0;
    for (const message of messages) if (!(await this.bridgeRemote(bridge, message)).duplicate) sent++;
    return { sent };
  }

  private async bridgeRemote(bridge: Bridge, event: RemoteEvent): Promise<RemoteEventResult> {
    const { intent } = bridge;
    const roomId = await this.ensureRoom(bridge, event.portalKey);
    // After ensureRoom: the initial backfill may have bridged this very message.
    const done = this.rows("SELECT * FROM message_map WHERE remote_id = ? ORDER BY part", event.messageId);
    const attachments = event.attachments ?? [];
    const parts = (event.content.body !== "" ? [0] : []).concat(attachments.map((_, i) => i + 1));
    const first = done[0] ?? this.mainOfExtra(event.messageId);
    // Our own message (sent from Matrix, or one more it became) coming back, or every part already bridged.
    if (first && (first.origin === "matrix" || parts.every((p) => done.some((d) => d.part === p)))) {
      return { roomId: first.roomId, eventId: first.eventId, duplicate: true };
    }
    const ghost = await this.ensureGhost(bridge, roomId, event.sender);
    const replyTo = event.replyTo === undefined ? undefined : this.mapped("remote_id", event.replyTo);
    const root = event.threadRoot === undefined ? undefined : this.mapped("remote_id", event.threadRoot);
    const sent: string[] = [];
    for (const part of parts) {
      const already = done.find((d) => d.part === part);
      if (already) {
        sent.push(already.eventId);
        continue;
      }
      // The remote id as txnId: a retry after a crash is de-duplicated by the homeserver too.
      const txnId = part === 0 ? `remote.${event.messageId}` : `remote.${event.messageId}.${part}`;
      const content = part === 0 ? event.content : await attachmentContent(bridge, ghost, attachments[part - 1]!);
      // A real reply on the first event only; in a thread, every part (later ones fall back to the one before).
      const relation = relatesTo({
        ...(sent.length === 0 && replyTo ? { replyToEventId: replyTo.eventId } : {}),
        ...(root ? { threadRootEventId: root.eventId, latestInThreadEventId: this.latestInThread(root.remoteId) ?? root.eventId } : {}),
      });
      const eventId = await intent.sendMessage(ghost, roomId, { ...content, ...relation }, event.timestamp, txnId);
      this.sql.exec(
        "INSERT INTO message_map (remote_id, part, event_id, room_id, origin, thread_root) VALUES (?, ?, ?, ?, 'remote', ?)",
        event.messageId,
        part,
        eventId,
        roomId,
        root ? root.remoteId : null,
      );
      sent.push(eventId);
    }
    this.store.set("last_remote_id", event.messageId);
    return { roomId, eventId: sent[0] ?? "", duplicate: false };
  }

  /** The newest bridged event of a thread (by its root's remote id), either side. */
  private latestInThread(rootRemoteId: string): string | undefined {
    return this.sql
      .exec<{ event_id: string }>("SELECT event_id FROM message_map WHERE thread_root = ? ORDER BY rowid DESC LIMIT 1", rootRemoteId)
      .toArray()[0]?.event_id;
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
      const bridge = this.setup(networkId);
      const { identity, intent } = bridge;
      switch (change.kind) {
        case "edit": {
          const target = this.mapped("remote_id", change.messageId);
          // Our own message's edit comes back from the network: it is already on Matrix.
          if (!target || target.origin === "matrix") return { eventIds: [] };
          const ghost = await this.ensureGhost(bridge, roomId, change.sender);
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
          const eventIds: string[] = [];
          for (const part of parts) eventIds.push(await intent.redact(bridge.bot, part.roomId, part.eventId, `delete.${part.eventId}`));
          this.ctx.storage.transactionSync(() => {
            this.sql.exec("DELETE FROM message_map WHERE remote_id = ?", change.messageId);
            this.sql.exec("DELETE FROM reaction_map WHERE remote_id = ?", change.messageId);
          });
          return { eventIds };
        }
        case "reaction": {
          const target = this.mapped("remote_id", change.messageId);
          if (!target || this.reaction(change.messageId, change.sender.id, change.emoji)) return { eventIds: [] };
          const ghost = await this.ensureGhost(bridge, roomId, change.sender);
          const content = {
            "m.relates_to": { rel_type: "m.annotation", event_id: target.eventId, key: change.emoji },
            ...(change.shortcode !== undefined ? { "com.beeper.reaction.shortcode": change.shortcode } : {}),
          };
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
          const ghost = await this.ensureGhost(bridge, roomId, change.sender);
          await intent.setTyping(ghost, roomId, true, change.timeoutMs);
          return { eventIds: [] };
        }
        case "pins": {
          // Messages never bridged (older than the room) are left out; the first event of each stands for it.
          const pinned = change.messageIds.flatMap((id) => this.mapped("remote_id", id)?.eventId ?? []);
          if (JSON.stringify(pinned) === (this.store.get("pinned_events") ?? "[]")) return { eventIds: [] };
          const eventId = await intent.setState(bridge.bot, roomId, "m.room.pinned_events", "", { pinned });
          this.store.set("pinned_events", JSON.stringify(pinned));
          return { eventIds: [eventId] };
        }
        case "ghost_profile": {
          const ghost = `@${identity.ghostLocalpart(change.sender.id)}:${identity.serverName}`;
          const known = this.ghostRow(ghost);
          if (known?.joined !== 1) return { eventIds: [] };
          await this.updateGhostProfile(bridge, ghost, known, change.sender);
          return { eventIds: [] };
        }
        case "membership": {
          if (change.membership === "join") {
            await this.ensureGhost(bridge, roomId, change.sender);
            return { eventIds: [] };
          }
          const ghost = `@${bridge.identity.ghostLocalpart(change.sender.id)}:${bridge.identity.serverName}`;
          if (this.ghostRow(ghost)?.joined !== 1) return { eventIds: [] };
          await intent.leave(ghost, roomId);
          // A later message of theirs invites and joins the ghost again.
          this.sql.exec("UPDATE ghosts SET joined = 0 WHERE user_id = ?", ghost);
          return { eventIds: [] };
        }
      }
    });
  }

  /**
   * A message the person sent in this portal's room: to the remote chat, once per event id, with its reply and
   * thread mapped to remote ids and its file's bytes (downloaded as the bot). A file over the size cap is refused
   * (logged; nothing sent): remoteMessageId null.
   */
  async handleMatrixMessage(networkId: string, message: MatrixMessage): Promise<{ remoteMessageId: string | null }> {
    return this.queue.run(async () => {
      const existing = this.mapped("event_id", message.eventId);
      if (existing) return { remoteMessageId: existing.remoteId };
      const key = this.store.get("portal_key");
      if (key === null || this.store.get("room_id") !== message.roomId) throw new Error(`Room ${message.roomId} is not this portal's room`);
      const bridge = this.setup(networkId);
      const replyTo = message.replyToEventId === undefined ? undefined : this.mapped("event_id", message.replyToEventId);
      const root = message.threadRootEventId === undefined ? undefined : this.mapped("event_id", message.threadRootEventId);
      const outgoing: MatrixMessage = { ...message };
      if (replyTo) outgoing.replyTo = remoteMessageId(replyTo.remoteId);
      if (root) outgoing.threadRoot = remoteMessageId(root.remoteId);
      if (message.media) {
        try {
          const file = await bridge.intent.download(message.media.mxc, bridge.maxMediaBytes);
          const mimetype = message.media.mimetype ?? file.contentType ?? undefined;
          outgoing.media = { ...message.media, bytes: file.bytes, ...(mimetype !== undefined ? { mimetype } : {}) };
        } catch (err) {
          if (!(err instanceof TooLargeError)) throw err;
          console.warn(`${message.eventId}: ${message.media.filename} not sent to ${networkId}: ${err.message}`);
          return { remoteMessageId: null };
        }
      }
      const sent = await bridge.api.handleMatrixMessage(key as PortalKey, outgoing);
      const extras = sent.extraMessageIds ?? [];
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(
          "INSERT INTO message_map (remote_id, part, event_id, room_id, origin, thread_root) VALUES (?, 0, ?, ?, 'matrix', ?)",
          sent.messageId,
          message.eventId,
          message.roomId,
          root ? root.remoteId : null,
        );
        for (const extra of extras) this.sql.exec("INSERT OR IGNORE INTO extra_remote_ids (remote_id, main_remote_id) VALUES (?, ?)", extra, sent.messageId);
        // The gap fill starts after the last of them: none comes back from the history.
        this.store.set("last_remote_id", extras.at(-1) ?? sent.messageId);
      });
      return { remoteMessageId: sent.messageId };
    });
  }

  /** The person read up to `eventId` in this portal's room: a read receipt on the remote chat, when it has them. */
  async handleMatrixReceipt(networkId: string, eventId: string): Promise<{ applied: boolean }> {
    // In the queue: the receipt of a message just sent waits until its remote id is known.
    return this.queue.run(async () => {
      const key = this.store.get("portal_key");
      const target = this.mapped("event_id", eventId);
      const api = connectorFor(networkId).loadApi(this.env);
      if (key === null || !target || !canMarkRead(api)) return { applied: false };
      await api.handleMatrixReadReceipt(key as PortalKey, remoteMessageId(target.remoteId));
      return { applied: true };
    });
  }

  /** The person started or stopped typing in this portal's room. Not queued: it is only worth anything now. */
  async handleMatrixTyping(networkId: string, typing: boolean): Promise<{ applied: boolean }> {
    const key = this.store.get("portal_key");
    const api = connectorFor(networkId).loadApi(this.env);
    if (key === null || !canType(api)) return { applied: false };
    await api.handleMatrixTyping(key as PortalKey, typing);
    return { applied: true };
  }

  /**
   * This portal as a remote server's or workspace's space (keyed by SpaceInfo.key): the space room, created once
   * (a room of type m.space, the person invited). Chat portals list themselves in it.
   */
  async ensureSpace(networkId: string, info: SpaceInfo): Promise<string> {
    return this.queue.run(async () => {
      const known = this.store.get("room_id");
      if (known !== null) return known;
      const bridge = this.setup(networkId);
      const avatar = info.avatarUrl === undefined ? undefined : await uploadImage(bridge, bridge.bot, info.avatarUrl);
      const roomId = await bridge.intent.createRoom(bridge.bot, spaceRoomRequest(bridge.identity, info, avatar));
      this.ctx.storage.transactionSync(() => {
        this.store.set("room_id", roomId);
        this.store.set("portal_key", info.key);
        this.store.set("space", "1");
      });
      return roomId;
    });
  }

  /** The portal room of `key`, created (with its initial backfill) if need be: for a chat bridged by a command. */
  async ensurePortal(networkId: string, key: PortalKey): Promise<string> {
    return this.queue.run(async () => this.ensureRoom(this.setup(networkId), key));
  }

  /**
   * Chat resync: re-reads the chat's info and applies a new name, topic or avatar to the room (as the bot).
   * Whether anything changed. Spaces and rooms not created yet are left alone.
   */
  async syncChatInfo(networkId: string): Promise<boolean> {
    return this.queue.run(async () => {
      const roomId = this.store.get("room_id");
      const key = this.store.get("portal_key");
      if (roomId === null || key === null || this.store.get("space") !== null) return false;
      const bridge = this.setup(networkId);
      const info = await bridge.api.getChatInfo(key as PortalKey);
      let changed = false;
      if (info.name !== this.store.get("chat_name")) {
        await bridge.intent.setState(bridge.bot, roomId, "m.room.name", "", { name: info.name });
        changed = true;
      }
      if ((info.topic ?? "") !== (this.store.get("chat_topic") ?? "")) {
        await bridge.intent.setState(bridge.bot, roomId, "m.room.topic", "", { topic: info.topic ?? "" });
        changed = true;
      }
      const avatar = info.avatarUrl === undefined || info.avatarUrl === this.store.get("chat_avatar") ? undefined : await uploadImage(bridge, bridge.bot, info.avatarUrl);
      if (avatar !== undefined) {
        await bridge.intent.setState(bridge.bot, roomId, "m.room.avatar", "", { url: avatar });
        changed = true;
      }
      this.rememberChatInfo(info, avatar === undefined ? this.store.get("chat_avatar") : (info.avatarUrl ?? null));
      return changed;
    });
  }

  /** What the room shows of the chat, to tell a later change apart. */
  private rememberChatInfo(info: ChatInfo, avatarSource: string | null): void {
    this.store.set("chat_name", info.name);
    this.store.set("chat_topic", info.topic ?? null);
    this.store.set("chat_avatar", avatarSource);
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
          const extras = this.sql.exec<{ remote_id: string }>("SELECT remote_id FROM extra_remote_ids WHERE main_remote_id = ? ORDER BY rowid", target.remoteId).toArray();
          for (const id of [target.remoteId, ...extras.map((e) => e.remote_id)]) await api.handleMatrixRedaction(portal, remoteMessageId(id));
          this.ctx.storage.transactionSync(() => {
            this.sql.exec("DELETE FROM message_map WHERE remote_id = ?", target.remoteId);
            this.sql.exec("DELETE FROM reaction_map WHERE remote_id = ?", target.remoteId);
            this.sql.exec("DELETE FROM extra_remote_ids WHERE main_remote_id = ?", target.remoteId);
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

  /** The message-map row of the Matrix message a remote message is one more part of (an extra remote id), if any. */
  private mainOfExtra(remoteId: string): MessageMapRow | undefined {
    const main = this.sql.exec<{ main_remote_id: string }>("SELECT main_remote_id FROM extra_remote_ids WHERE remote_id = ?", remoteId).toArray()[0];
    return main === undefined ? undefined : this.mapped("remote_id", main.main_remote_id);
  }

  private mapped(column: "remote_id" | "event_id", value: string): MessageMapRow | undefined {
    return this.rows(`SELECT * FROM message_map WHERE ${column} = ? ORDER BY part LIMIT 1`, value)[0];
  }

  private rows(query: string, ...bindings: string[]): MessageMapRow[] {
    return this.sql
      .exec<{ remote_id: string; part: number; event_id: string; room_id: string; origin: string; thread_root: string | null }>(query, ...bindings)
      .toArray()
      .map((r) => ({
        remoteId: r.remote_id,
        part: r.part,
        eventId: r.event_id,
        roomId: r.room_id,
        origin: r.origin === "matrix" ? "matrix" : "remote",
        threadRoot: r.thread_root,
      }));
  }

  private setup(networkId: string): Bridge {
    return bridgeFor(this.env, homeserverFetch(this.ctx), networkId);
  }

  /**
   * The portal room, created on first use from the chat's info: its avatar, its DM-ness, its space (created once by
   * the space's own portal, then linked both ways), then the initial backfill, before the event that created it.
   */
  private async ensureRoom(bridge: Bridge, key: PortalKey): Promise<string> {
    const known = this.store.get("room_id");
    if (known !== null) {
      await this.linkToSpace(bridge, known);
      return known;
    }
    const { identity, intent, bot } = bridge;
    const info = await bridge.api.getChatInfo(key);
    // The space's portal answers in its own queue: this one's would wait for itself.
    if (info.space?.key === key) throw new Error(`Chat ${key} names itself as its space`);
    const spaceRoomId = info.space === undefined ? undefined : await portalStub(this.env, bridge.networkId, info.space.key).ensureSpace(bridge.networkId, info.space);
    const avatarMxc = info.avatarUrl === undefined ? undefined : await uploadImage(bridge, bot, info.avatarUrl);
    const extra = { ...(avatarMxc !== undefined ? { avatarMxc } : {}), ...(spaceRoomId !== undefined ? { spaceRoomId } : {}) };
    const roomId = await intent.createRoom(bot, portalRoomRequest(identity, key, info, extra));
    this.ctx.storage.transactionSync(() => {
      this.store.set("room_id", roomId);
      this.store.set("portal_key", key);
      this.rememberChatInfo(info, avatarMxc === undefined ? null : (info.avatarUrl ?? null));
      if (spaceRoomId !== undefined) {
        this.store.set("space_room_id", spaceRoomId);
        this.store.set("space_child_pending", JSON.stringify(spaceChildContent(identity.serverName, info.space?.order)));
      }
    });
    await this.linkToSpace(bridge, roomId);
    const limit = identity.backfillLimit ?? 0;
    if (limit > 0) await this.fill(bridge, limit).catch((err: unknown) => console.warn(`initial backfill of ${key}: ${(err as Error).message}`));
    return roomId;
  }

  /** Lists the room in its space (m.space.child, as the bot), once; retried on the next event if it failed. */
  private async linkToSpace(bridge: Bridge, roomId: string): Promise<void> {
    const pending = this.store.get("space_child_pending");
    const spaceRoomId = this.store.get("space_room_id");
    if (pending === null || spaceRoomId === null) return;
    await bridge.intent.setState(bridge.bot, spaceRoomId, "m.space.child", roomId, JSON.parse(pending) as object);
    this.store.set("space_child_pending", null);
  }

  /**
   * The ghost exists, has its display name and avatar (before its first message; the avatar uploaded once per
   * source URL) and is joined to the room.
   */
  private async ensureGhost(bridge: Bridge, roomId: string, sender: RemoteActor & { avatarUrl?: string }): Promise<string> {
    const { identity, intent } = bridge;
    const localpart = identity.ghostLocalpart(sender.id);
    const userId = `@${localpart}:${identity.serverName}`;
    const known = this.ghostRow(userId);
    if (!known) await intent.ensureRegistered(localpart);
    await this.updateGhostProfile(bridge, userId, known, sender);
    if (known?.joined !== 1) {
      await intent.invite(bridge.bot, roomId, userId);
      await intent.join(userId, roomId);
    }
    this.sql.exec("UPDATE ghosts SET joined = 1 WHERE user_id = ?", userId);
    return userId;
  }

  private ghostRow(userId: string): GhostRow | undefined {
    return this.sql.exec<GhostRow>("SELECT displayname, joined, avatar_source FROM ghosts WHERE user_id = ?", userId).toArray()[0];
  }

  /**
   * Sets the ghost's display name and avatar where they differ from what this portal last set, and records them
   * (a new ghost's row is created not joined). The profile is global: a name another portal already set (the same
   * remote user in another chat) is not set again, which would re-send its member event in every room.
   */
  private async updateGhostProfile(bridge: Bridge, userId: string, known: GhostRow | undefined, sender: RemoteActor & { avatarUrl?: string }): Promise<void> {
    const { intent } = bridge;
    if (sender.displayName !== undefined && known?.displayname !== sender.displayName) {
      if ((await intent.getProfile(userId)).displayname !== sender.displayName) await intent.setDisplayName(userId, sender.displayName);
    }
    let avatarSource = known?.avatar_source ?? null;
    if (sender.avatarUrl !== undefined && sender.avatarUrl !== avatarSource) {
      const mxc = await uploadImage(bridge, userId, sender.avatarUrl);
      if (mxc !== undefined) {
        await intent.setAvatarUrl(userId, mxc);
        avatarSource = sender.avatarUrl;
      }
    }
    this.sql.exec(
      `INSERT INTO ghosts (user_id, displayname, joined, avatar_source) VALUES (?, ?, 0, ?)
       ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname, avatar_source = excluded.avatar_source`,
      userId,
      sender.displayName ?? known?.displayname ?? "",
      avatarSource,
    );
  }
}
