import { DurableObject } from "cloudflare:workers";
import { currentStreamPosition } from "../storage/stream-positions";
import { MetaTable, ensureSchema } from "../util/durable-sqlite";
import { type AppserviceToDevice, type Msc3202Target, deviceListChangesFor, keyCountsOf } from "./encryption";
import { appserviceFetch, isOwnOrigin } from "./transport";

/** Where a queue delivers: the appservice's base URL and the token it expects from us. */
export interface QueueTarget {
  url: string;
  hsToken: string;
  /** Set for `org.matrix.msc3202` registrations: transactions then carry device lists and key counts. */
  msc3202?: Msc3202Target;
}

/**
 * One item of a transaction: a room event (client format), with receive_ephemeral an EDU, or with MSC3202 a
 * to-device message.
 */
export interface QueueItem {
  kind: "event" | "ephemeral" | "to_device";
  data: object;
  /** The event id: an item whose key this queue has already taken is dropped, so hand-offs can be retried. */
  key?: string;
}

export interface QueueStatus {
  pending: number;
  inFlight: { txnId: string; body: string } | null;
  attempts: number;
  nextTxnId: number;
  /** Why the last attempt failed ("answered 503", "failed: ..."), null after a success. */
  lastFailure: string | null;
}

/** Items per transaction: Synapse's limit, small enough for any appservice's body limit. */
const MAX_ITEMS_PER_TXN = 100;
/** Transactions sent in one alarm run before yielding to a fresh alarm. */
const MAX_TXNS_PER_RUN = 20;
const FIRST_RETRY_MS = 1_000;
const DEFAULT_MAX_RETRY_MS = 5 * 60_000;
const PUSH_TIMEOUT_MS = 30_000;
const SCHEMA_VERSION = 1;
/** How long taken keys are remembered (hand-off retries happen within seconds). */
const SEEN_KEYS_TTL_MS = 24 * 60 * 60_000;

type PendingRow = {
  seq: number;
  kind: QueueItem["kind"];
  data: string;
};

/**
 * A transaction's body: `events`, then whichever of `ephemeral` (with MSC2409's name, which current appservice
 * libraries still read), `de.sorunome.msc2409.to_device` and the MSC3202 fields have something.
 */
function transactionBody(rows: PendingRow[], encryption: Record<string, unknown>): Record<string, unknown> {
  const of = (kind: QueueItem["kind"]) => rows.filter((r) => r.kind === kind).map((r) => JSON.parse(r.data) as unknown);
  const body: Record<string, unknown> = { events: of("event") };
  const ephemeral = of("ephemeral");
  if (ephemeral.length > 0) Object.assign(body, { ephemeral, "de.sorunome.msc2409.ephemeral": ephemeral });
  const toDevice = of("to_device");
  if (toDevice.length > 0) body["de.sorunome.msc2409.to_device"] = toDevice;
  return Object.assign(body, encryption);
}

/** Capped exponential backoff after `attempts` consecutive failures (1 s, 2 s, 4 s ... up to `maxMs`). */
export function retryDelay(attempts: number, maxMs: number): number {
  return Math.min(maxMs, FIRST_RETRY_MS * 2 ** Math.min(attempts - 1, 30));
}

/**
 * The durable, ordered outbox of one application service (Application Service API, "Pushing events").
 * Items wait in `pending` in arrival order; the alarm takes the oldest into the single in-flight transaction,
 * whose txnId and exact body are stored before the first attempt, and retries that same transaction with capped
 * exponential backoff until the appservice answers 2xx. Nothing newer is sent before it, so order holds, and
 * everything is in this object's SQLite, so nothing is lost when it restarts. With MSC3202, a new transaction also
 * takes the device list changes after a cursor read from D1, which moves in the same SQLite transaction that stores
 * it (see encryption.ts), so each change goes out once too.
 */
export class AppserviceQueue extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: MetaTable;
  private delivering: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MetaTable(this.sql);
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.store, SCHEMA_VERSION, () => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS in_flight (txn_id TEXT PRIMARY KEY, body TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS seen_keys (key TEXT PRIMARY KEY, taken_ts INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS seen_keys_by_ts ON seen_keys (taken_ts);
      `);
    });
  }

  /**
   * Appends items (in order) and makes sure a delivery is scheduled; a queue in backoff keeps its retry time.
   * Idempotent per item key, so a caller may retry a hand-off whose answer it did not get.
   */
  async enqueue(target: QueueTarget, items: QueueItem[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.store.set("target", JSON.stringify(target));
      for (const item of items) {
        if (item.key !== undefined) {
          const taken = this.sql.exec("INSERT INTO seen_keys (key, taken_ts) VALUES (?, ?) ON CONFLICT DO NOTHING", item.key, now);
          if (taken.rowsWritten === 0) continue;
        }
        this.sql.exec("INSERT INTO pending (kind, data) VALUES (?, ?)", item.kind, JSON.stringify(item.data));
      }
      this.sql.exec("DELETE FROM seen_keys WHERE taken_ts < ?", now - SEEN_KEYS_TTL_MS);
    });
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * Makes sure a delivery is scheduled, without items: a device list changed, which the next transaction reads from
   * D1 itself. A queue in backoff keeps its retry time.
   */
  async poke(target: QueueTarget): Promise<void> {
    this.store.set("target", JSON.stringify(target));
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  /** What is waiting and in flight, for tests and operators. */
  status(): QueueStatus {
    const pending = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pending").one().n;
    const inFlight = this.sql.exec<{ txn_id: string; body: string }>("SELECT txn_id, body FROM in_flight").toArray()[0];
    return {
      pending,
      inFlight: inFlight ? { txnId: inFlight.txn_id, body: inFlight.body } : null,
      attempts: Number(this.store.get("attempts") ?? "0"),
      nextTxnId: Number(this.store.get("next_txn_id") ?? "1"),
      lastFailure: this.store.get("last_failure"),
    };
  }

  override async alarm(): Promise<void> {
    // One delivery at a time, even if an alarm and a retry overlap in this instance.
    this.delivering ??= this.deliver().finally(() => (this.delivering = null));
    await this.delivering;
  }

  private async deliver(): Promise<void> {
    const targetJson = this.store.get("target");
    if (!targetJson) return;
    const target = JSON.parse(targetJson) as QueueTarget;
    for (let sent = 0; sent < MAX_TXNS_PER_RUN; sent++) {
      const txn = await this.inFlightOrNext(target);
      if (!txn) return;
      if (!(await this.push(target, txn))) {
        const attempts = Number(this.store.get("attempts") ?? "0") + 1;
        this.store.set("attempts", String(attempts));
        await this.ctx.storage.setAlarm(Date.now() + retryDelay(attempts, this.maxRetryMs()));
        return;
      }
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("DELETE FROM in_flight WHERE txn_id = ?", txn.txnId);
        this.store.set("attempts", "0");
        this.store.set("last_failure", null);
      });
    }
    await this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * The transaction to (re)send: the stored in-flight one, or a new one cut from the oldest pending items (and, with
   * MSC3202, the device list changes since the last one). Only this delivery removes pending rows and items are only
   * appended, so the rows read here are still the oldest when the transaction is cut after the awaits.
   */
  private async inFlightOrNext(target: QueueTarget): Promise<{ txnId: string; body: string } | null> {
    const existing = this.sql.exec<{ txn_id: string; body: string }>("SELECT txn_id, body FROM in_flight").toArray()[0];
    if (existing) return { txnId: existing.txn_id, body: existing.body };
    const rows = this.sql
      .exec<PendingRow>("SELECT seq, kind, data FROM pending ORDER BY seq LIMIT ?", MAX_ITEMS_PER_TXN)
      .toArray();
    const encryption = target.msc3202 ? await this.encryptionFields(target.msc3202, rows) : null;
    if (rows.length === 0 && !encryption?.fields["org.matrix.msc3202.device_lists"]) {
      if (!encryption) return null;
      this.store.set("device_list_cursor", String(encryption.cursor));
      // A full page of changes none of which concerned this appservice: read on.
      return encryption.more ? this.inFlightOrNext(target) : null;
    }
    return this.ctx.storage.transactionSync(() => {
      const nextTxnId = Number(this.store.get("next_txn_id") ?? "1");
      const txn = { txnId: String(nextTxnId), body: JSON.stringify(transactionBody(rows, encryption?.fields ?? {})) };
      if (rows.length > 0) this.sql.exec("DELETE FROM pending WHERE seq <= ?", rows[rows.length - 1]!.seq);
      if (encryption) this.store.set("device_list_cursor", String(encryption.cursor));
      this.sql.exec("INSERT INTO in_flight (txn_id, body) VALUES (?, ?)", txn.txnId, txn.body);
      this.store.set("next_txn_id", String(nextTxnId + 1));
      return txn;
    });
  }

  /**
   * MSC3202's fields for the next transaction: device list changes after the stored cursor (the first time, the
   * cursor starts at the current position: an appservice hears of changes from when it opted in), and the key
   * counts of the sender's devices and of the to-device recipients'. When D1 or a key object cannot answer, the
   * transaction goes without them; the cursor stays, so those changes follow with the next one.
   */
  private async encryptionFields(target: Msc3202Target, rows: PendingRow[]): Promise<{ fields: Record<string, unknown>; cursor: number; more: boolean } | null> {
    try {
      const stored = this.store.get("device_list_cursor");
      const recipients = rows.filter((r) => r.kind === "to_device").map((r) => (JSON.parse(r.data) as AppserviceToDevice).to_user_id);
      const countKeys = () => keyCountsOf(this.env, [target.senderUserId, ...recipients]);
      // With items, a transaction goes anyway: its key counts are read beside the device lists.
      const [lists, early] = await Promise.all([
        stored === null
          ? currentStreamPosition(this.env.DB).then((cursor) => ({ changed: [], cursor, more: false }))
          : deviceListChangesFor(this.env.DB, target, Number(stored)),
        rows.length > 0 ? countKeys() : null,
      ]);
      const fields: Record<string, unknown> = {};
      if (lists.changed.length > 0) fields["org.matrix.msc3202.device_lists"] = { changed: lists.changed, left: [] };
      if (rows.length === 0 && lists.changed.length === 0) return { fields, cursor: lists.cursor, more: lists.more };
      const counts = early ?? (await countKeys());
      if (Object.keys(counts.oneTimeKeys).length > 0) {
        fields["org.matrix.msc3202.device_one_time_keys_count"] = counts.oneTimeKeys;
        fields["org.matrix.msc3202.device_unused_fallback_key_types"] = counts.unusedFallbackKeyTypes;
      }
      return { fields, cursor: lists.cursor, more: lists.more };
    } catch (err) {
      console.warn("appservice transaction goes without MSC3202 data:", err);
      return null;
    }
  }

  /**
   * PUT /_matrix/app/v1/transactions/{txnId}: true when the appservice took it (any 2xx). The same request (txnId,
   * body, hs_token, timeout) either way: over the network, or to the Worker itself for a built-in bridge.
   */
  private async push(target: QueueTarget, txn: { txnId: string; body: string }): Promise<boolean> {
    const internal = isOwnOrigin(this.env, target.url);
    try {
      const request = new Request(`${target.url}/_matrix/app/v1/transactions/${encodeURIComponent(txn.txnId)}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${target.hsToken}`, "content-type": "application/json" },
        body: txn.body,
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      const res = await appserviceFetch(this.env, request);
      await res.body?.cancel();
      if (!res.ok) this.failed(txn.txnId, target.url, `answered ${res.status}${internal ? " (internal)" : ""}`);
      return res.ok;
    } catch (err) {
      this.failed(txn.txnId, target.url, `failed${internal ? " (internal)" : ""}: ${(err as Error).message}`);
      return false;
    }
  }

  private failed(txnId: string, url: string, why: string): void {
    this.store.set("last_failure", why);
    console.warn(`appservice transaction ${txnId} to ${url} ${why}`);
  }

  private maxRetryMs(): number {
    const configured = Number(this.env.APPSERVICE_RETRY_MAX_MS);
    return Number.isSafeInteger(configured) && configured > 0 ? configured : DEFAULT_MAX_RETRY_MS;
  }
}
