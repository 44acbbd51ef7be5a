/**
 * Shared plumbing of the SQLite-backed Durable Objects: a small key-value `meta` table (schema version, cursors,
 * session state) and a versioned schema created once, in the constructor, under blockConcurrencyWhile.
 */
export class MetaTable {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }

  get(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  /** Sets a value; null removes the key. */
  set(key: string, value: string | null): void {
    if (value === null) this.sql.exec("DELETE FROM meta WHERE key = ?", key);
    else this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }
}

/** Runs `create` (idempotent DDL) unless the stored schema version is already `version`, then records it. */
export function ensureSchema(meta: MetaTable, version: number, create: () => void): void {
  if (meta.get("schema_version") === String(version)) return;
  create();
  meta.set("schema_version", String(version));
}

/** Runs async work one piece at a time, in arrival order; a failure does not stop what comes after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
