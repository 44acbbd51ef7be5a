import { DurableObject } from "cloudflare:workers";
import { connectorFor } from "./connectors";
import type { PortalKey } from "./ids";
import { homeserverFetch } from "./matrix/homeserver";
import { MatrixIntent } from "./matrix/intent";
import type { BridgeIdentity, MatrixMessage, NetworkConnector, RemoteEvent, RemoteSender } from "./network";
import { MetaTable, SerialQueue, ensureSchema } from "../../homeserver/src/util/durable-sqlite";

const SCHEMA_VERSION = 1;

/** One row of the message map: a remote message (part) and the Matrix event that carries it. */
export interface MessageMapRow {
  remoteId: string;
  part: number;
  eventId: string;
  roomId: string;
  /** "remote": bridged from the network; "matrix": sent from Matrix (its echo must not come back). */
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
      `);
    });
  }

  /** A remote event of this chat: creates the room on first use, then bridges it as its sender's ghost. */
  async handleRemoteEvent(networkId: string, event: RemoteEvent): Promise<RemoteEventResult> {
    return this.queue.run(async () => {
      const existing = this.mapped("remote_id", event.messageId);
      if (existing) return { roomId: existing.roomId, eventId: existing.eventId, duplicate: true };
      const { connector, identity, intent } = this.setup(networkId);
      const roomId = await this.ensureRoom(connector, identity, intent, event.portalKey);
      const ghost = await this.ensureGhost(identity, intent, roomId, event.sender);
      // The remote id as txnId: a retry after a crash is de-duplicated by the homeserver too.
      const eventId = await intent.sendMessage(ghost, roomId, event.content, event.timestamp, `remote.${event.messageId}`);
      this.sql.exec(
        "INSERT INTO message_map (remote_id, part, event_id, room_id, origin) VALUES (?, 0, ?, ?, 'remote')",
        event.messageId,
        eventId,
        roomId,
      );
      return { roomId, eventId, duplicate: false };
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
      const sent = await api.handleMatrixMessage(key as PortalKey, message);
      this.sql.exec(
        "INSERT INTO message_map (remote_id, part, event_id, room_id, origin) VALUES (?, 0, ?, ?, 'matrix')",
        sent.messageId,
        message.eventId,
        message.roomId,
      );
      return { remoteMessageId: sent.messageId };
    });
  }

  /** The portal's room id, or null before its first event. */
  roomId(): string | null {
    return this.store.get("room_id");
  }

  messageMap(): MessageMapRow[] {
    return this.rows("SELECT * FROM message_map ORDER BY rowid");
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
  private async ensureGhost(identity: BridgeIdentity, intent: MatrixIntent, roomId: string, sender: RemoteSender): Promise<string> {
    const localpart = identity.ghostLocalpart(sender.id);
    const userId = `@${localpart}:${identity.serverName}`;
    const known = this.sql.exec<{ displayname: string; joined: number }>("SELECT displayname, joined FROM ghosts WHERE user_id = ?", userId).toArray()[0];
    if (!known) await intent.ensureRegistered(localpart);
    if (known?.displayname !== sender.displayName) await intent.setDisplayName(userId, sender.displayName);
    if (known?.joined !== 1) {
      await intent.invite(`@${identity.botLocalpart}:${identity.serverName}`, roomId, userId);
      await intent.join(userId, roomId);
    }
    this.sql.exec(
      "INSERT INTO ghosts (user_id, displayname, joined) VALUES (?, ?, 1) ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname, joined = 1",
      userId,
      sender.displayName,
    );
    return userId;
  }
}
