import { DurableObject } from "cloudflare:workers";
import { MetaTable, ensureSchema } from "../util/durable-sqlite";

/** Where a queue delivers: the appservice's base URL and the token it expects from us. */
export interface QueueTarget {
  url: string;
  hsToken: string;
}

/** One item of a transaction: a room event (client format) or, with receive_ephemeral, an EDU. */
export interface QueueItem {
  kind: "event" | "ephemeral";
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

/** Capped exponential backoff after `attempts` consecutive failures (1 s, 2 s, 4 s ... up to `maxMs`). */
export function retryDelay(attempts: number, maxMs: number): number {
  return Math.min(maxMs, FIRST_RETRY_MS * 2 ** Math.min(attempts - 1, 30));
}

/**
 * The durable, ordered outbox of one application service (Application Service API, "Pushing events").
 * Items wait in `pending` in arrival order; the alarm takes the oldest into the single in-flight transaction,
 * whose txnId and exact body are stored before the first attempt, and retries that same transaction with capped
 * exponential backoff until the appservice answers 2xx. Nothing newer is sent before it, so order holds, and
 * everything is in this object's SQLite, so nothing is lost when it restarts.
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
      const txn = this.inFlightOrNext();
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

  /** The transaction to (re)send: the stored in-flight one, or a new one cut from the oldest pending items. */
  private inFlightOrNext(): { txnId: string; body: string } | null {
    const existing = this.sql.exec<{ txn_id: string; body: string }>("SELECT txn_id, body FROM in_flight").toArray()[0];
    if (existing) return { txnId: existing.txn_id, body: existing.body };
    return this.ctx.storage.transactionSync(() => {
      const rows = this.sql
        .exec<{ seq: number; kind: string; data: string }>("SELECT seq, kind, data FROM pending ORDER BY seq LIMIT ?", MAX_ITEMS_PER_TXN)
        .toArray();
      if (rows.length === 0) return null;
      const events = rows.filter((r) => r.kind === "event").map((r) => JSON.parse(r.data) as unknown);
      const ephemeral = rows.filter((r) => r.kind === "ephemeral").map((r) => JSON.parse(r.data) as unknown);
      const body: Record<string, unknown> = { events };
      // The stable name and MSC2409's, which current appservice libraries still read.
      if (ephemeral.length > 0) Object.assign(body, { ephemeral, "de.sorunome.msc2409.ephemeral": ephemeral });
      const nextTxnId = Number(this.store.get("next_txn_id") ?? "1");
      const txn = { txnId: String(nextTxnId), body: JSON.stringify(body) };
      this.sql.exec("DELETE FROM pending WHERE seq <= ?", rows[rows.length - 1]!.seq);
      this.sql.exec("INSERT INTO in_flight (txn_id, body) VALUES (?, ?)", txn.txnId, txn.body);
      this.store.set("next_txn_id", String(nextTxnId + 1));
      return txn;
    });
  }

  /**
   * Whether `url` is on this Worker's own origin (PUBLIC_BASEURL): a built-in bridge, mounted under /_bridges/,
   * whose transactions go through the Worker's own fetch handler (`ctx.exports.default`) without a network hop.
   */
  private isInternal(url: string): boolean {
    try {
      return new URL(url).origin === new URL(this.env.PUBLIC_BASEURL).origin;
    } catch {
      return false;
    }
  }

  /**
   * PUT /_matrix/app/v1/transactions/{txnId}: true when the appservice took it (any 2xx). The same request (txnId,
   * body, hs_token, timeout) either way: over the network, or to the Worker itself for a built-in bridge.
   */
  private async push(target: QueueTarget, txn: { txnId: string; body: string }): Promise<boolean> {
    const internal = this.isInternal(target.url);
    try {
      const request = new Request(`${target.url}/_matrix/app/v1/transactions/${encodeURIComponent(txn.txnId)}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${target.hsToken}`, "content-type": "application/json" },
        body: txn.body,
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      const res = internal ? await this.ctx.exports.default.fetch(request) : await fetch(request);
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
