import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { MetaTable, ensureSchema } from "../../homeserver/src/util/durable-sqlite";

const SCHEMA_VERSION = 1;
/**
 * How long a delivered event id is remembered. Slack retries a delivery it saw no 200 for three times, within
 * about five minutes (immediately, after 1 minute, after 5 minutes); an hour covers that with room to spare.
 */
export const SEEN_EVENT_TTL_MS = 60 * 60 * 1000;
/** How long a user's name from users.info is trusted before it is looked up again. */
export const USER_NAME_TTL_MS = 60 * 60 * 1000;

/** Who the bot token is (auth.test), stored with a fingerprint of the token it was asked with. */
const SlackBotIdentity = z.object({ teamId: z.string(), userId: z.string(), botId: z.string().nullable() });
export type SlackBotIdentity = z.infer<typeof SlackBotIdentity>;

export interface SlackBridgeStatus {
  /** The bot token's workspace and bot user, once auth.test has answered. */
  bot: SlackBotIdentity | null;
  /** Distinct Events API deliveries accepted, and redeliveries (same event_id) dropped. */
  eventsAccepted: number;
  duplicatesDropped: number;
  portals: number;
}

/**
 * The Slack bridge's own state (one object), in SQLite: the Events API deliveries already seen, by
 * `team_id:event_id` (a retried delivery is dropped; pruned after a TTL by the alarm), which Matrix room is which
 * conversation's portal (for the way back), and a cache of users' names. Per-portal state lives in the portals.
 */
export class SlackBridgeObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS seen_events_by_time ON seen_events (seen_at);
        CREATE TABLE IF NOT EXISTS portal_rooms (room_id TEXT PRIMARY KEY, portal_key TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS user_names (user_id TEXT PRIMARY KEY, name TEXT NOT NULL, fetched_at INTEGER NOT NULL);
      `);
    });
  }

  private bump(counter: string): void {
    this.store.set(counter, String(Number(this.store.get(counter) ?? "0") + 1));
  }

  /**
   * Claims an Events API delivery: true the first time its event_id is seen (within the TTL), false for a retry
   * or duplicate. Atomic: the object runs one call at a time around this synchronous SQL.
   */
  async claimEvent(deliveryId: string, nowMs = Date.now()): Promise<boolean> {
    const inserted = this.sql.exec("INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING", deliveryId, nowMs).rowsWritten > 0;
    this.bump(inserted ? "events_accepted" : "duplicates_dropped");
    if (inserted && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(nowMs + SEEN_EVENT_TTL_MS);
    return inserted;
  }

  /** Forgets seen event ids past their TTL; runs again while any are left. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM seen_events WHERE seen_at < ?", now - SEEN_EVENT_TTL_MS);
    this.sql.exec("DELETE FROM user_names WHERE fetched_at < ?", now - USER_NAME_TTL_MS);
    const oldest = this.sql.exec<{ seen_at: number }>("SELECT seen_at FROM seen_events ORDER BY seen_at LIMIT 1").toArray()[0];
    if (oldest) await this.ctx.storage.setAlarm(oldest.seen_at + SEEN_EVENT_TTL_MS);
  }

  /** The portal a Matrix room belongs to, or null. */
  portalOfRoom(roomId: string): string | null {
    return this.sql.exec<{ portal_key: string }>("SELECT portal_key FROM portal_rooms WHERE room_id = ?", roomId).toArray()[0]?.portal_key ?? null;
  }

  rememberPortal(roomId: string, key: string): void {
    this.sql.exec("INSERT INTO portal_rooms (room_id, portal_key) VALUES (?, ?) ON CONFLICT DO NOTHING", roomId, key);
  }

  /** Cached users' names (users.info answers), by Slack user id; stale ones are left out. */
  userNames(userIds: string[], nowMs = Date.now()): Record<string, string> {
    const names: Record<string, string> = {};
    for (const id of userIds) {
      const row = this.sql.exec<{ name: string; fetched_at: number }>("SELECT name, fetched_at FROM user_names WHERE user_id = ?", id).toArray()[0];
      if (row && row.fetched_at >= nowMs - USER_NAME_TTL_MS) names[id] = row.name;
    }
    return names;
  }

  rememberUserNames(names: Record<string, string>, nowMs = Date.now()): void {
    for (const [id, name] of Object.entries(names)) {
      this.sql.exec(
        "INSERT INTO user_names (user_id, name, fetched_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, fetched_at = excluded.fetched_at",
        id,
        name,
        nowMs,
      );
    }
  }

  /** The bot identity auth.test gave for the token with this fingerprint, or null (unknown, or another token). */
  botIdentity(tokenFingerprint: string): SlackBotIdentity | null {
    if (this.store.get("bot_token_fingerprint") !== tokenFingerprint) return null;
    return this.storedBotIdentity();
  }

  rememberBotIdentity(tokenFingerprint: string, bot: SlackBotIdentity): void {
    this.ctx.storage.transactionSync(() => {
      this.store.set("bot_token_fingerprint", tokenFingerprint);
      this.store.set("bot_identity", JSON.stringify(bot));
    });
  }

  private storedBotIdentity(): SlackBotIdentity | null {
    const raw = this.store.get("bot_identity");
    return raw === null ? null : SlackBotIdentity.parse(JSON.parse(raw));
  }

  status(): SlackBridgeStatus {
    return {
      bot: this.storedBotIdentity(),
      eventsAccepted: Number(this.store.get("events_accepted") ?? "0"),
      duplicatesDropped: Number(this.store.get("duplicates_dropped") ?? "0"),
      portals: this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM portal_rooms").one().n,
    };
  }
}

/** The bridge's one state object. */
export function slackBridge(env: Env) {
  return env.SLACK_BRIDGE.get(env.SLACK_BRIDGE.idFromName("bridge"));
}
