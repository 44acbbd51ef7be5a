import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, registerUser } from "../helpers";

const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

interface Cost {
  roundTrips: number;
  statements: number;
  rowsRead: number;
  /** Statements that read a room's timeline (storage/events.ts timelineRowsStatement). */
  timelineReads: number;
  ms: number;
}

/** A D1 binding that records round trips, statements, the rows D1 says it read, and which statements were timeline reads. */
function meteredDb(db: D1Database): { db: D1Database; cost: () => Omit<Cost, "ms"> } {
  const cost = { roundTrips: 0, statements: 0, rowsRead: 0, timelineReads: 0 };
  const sqlOf = new WeakMap<object, { stmt: D1PreparedStatement; sql: string }>();
  const note = (sql: string) => {
    cost.statements++;
    if (/FROM events WHERE room_id = \? AND stream_ordering > \? AND stream_ordering <= \?\s+ORDER BY stream_ordering DESC LIMIT/.test(sql)) cost.timelineReads++;
  };
  const addRows = (result: unknown) => {
    for (const r of Array.isArray(result) ? result : [result]) {
      const meta = (r as { meta?: { rows_read?: number } } | null)?.meta;
      cost.rowsRead += meta?.rows_read ?? 0;
    }
  };
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => wrap(target.bind(...args), sql);
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return async (...args: unknown[]) => {
            cost.roundTrips++;
            note(sql);
            // `first` returns no meta; run the statement through `all` to count its rows the same way.
            if (prop === "first") {
              const all = await target.all();
              addRows(all);
            }
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (prop !== "first") addRows(result);
            return result;
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    sqlOf.set(proxy, { stmt, sql });
    return proxy;
  };
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql), sql);
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          cost.roundTrips++;
          for (const s of statements) note(sqlOf.get(s)?.sql ?? "");
          const result = await target.batch(statements.map((s) => sqlOf.get(s)?.stmt ?? s));
          addRows(result);
          return result;
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, cost: () => ({ ...cost }) };
}

/**
 * Puts the user in `count` rooms straight into D1 (a create event, their join, one message each): creating 1,000
 * rooms through the API would take minutes. The rows are shaped as the RoomObject commits them.
 */
async function seedRooms(user: TestUser, count: number): Promise<string[]> {
  const tag = crypto.randomUUID().slice(0, 8);
  const rooms = Array.from({ length: count }, (_, i) => `!cost${tag}${i}:localhost`);
  const ts = Date.now();
  const events = rooms.flatMap((roomId, i) => [
    { id: `$c${tag}${i}`, roomId, type: "m.room.create", stateKey: "", content: { room_version: "11" } },
    { id: `$j${tag}${i}`, roomId, type: "m.room.member", stateKey: user.userId, content: { membership: "join" } },
    { id: `$m${tag}${i}`, roomId, type: "m.room.message", stateKey: null, content: { msgtype: "m.text", body: `hello ${i}` } },
  ]);
  const rows = events.map((e, n) => ({
    ...e,
    pdu: JSON.stringify({ type: e.type, room_id: e.roomId, sender: user.userId, content: e.content, origin_server_ts: ts + n, depth: 1, ...(e.stateKey !== null && { state_key: e.stateKey }) }),
  }));
  for (let i = 0; i < rows.length; i += 300) {
    await env.DB.prepare(
      `INSERT INTO events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, pdu)
       SELECT json_extract(value, '$.id'), json_extract(value, '$.roomId'), json_extract(value, '$.type'), json_extract(value, '$.stateKey'),
              ?, ?, 1, json_extract(value, '$.pdu') FROM json_each(?)`,
    )
      .bind(user.userId, ts, JSON.stringify(rows.slice(i, i + 300)))
      .run();
  }
  await env.DB.prepare(
    `INSERT INTO current_state (room_id, type, state_key, event_id, stream_ordering, membership)
     SELECT room_id, type, state_key, event_id, stream_ordering, CASE WHEN type = 'm.room.member' THEN 'join' END
     FROM events WHERE event_id IN (SELECT json_extract(value, '$.id') FROM json_each(?)) AND state_key IS NOT NULL`,
  )
    .bind(JSON.stringify(rows.filter((r) => r.stateKey !== null)))
    .run();
  return rooms;
}

/** A message in a seeded room (the RoomObject does not know those rooms, so it is written the same direct way). */
async function seedMessage(user: TestUser, roomId: string, body: string): Promise<void> {
  const ts = Date.now();
  const pdu = { type: "m.room.message", room_id: roomId, sender: user.userId, content: { msgtype: "m.text", body }, origin_server_ts: ts, depth: 2 };
  await env.DB.prepare("INSERT INTO events (event_id, room_id, type, sender, origin_server_ts, depth, pdu) VALUES (?, ?, 'm.room.message', ?, ?, 2, ?)")
    .bind(`$${crypto.randomUUID()}`, roomId, user.userId, ts, JSON.stringify(pdu))
    .run();
}

async function measured(user: TestUser, body: Record<string, unknown>, pos?: string): Promise<{ cost: Cost; body: Record<string, unknown> }> {
  const metered = meteredDb(env.DB);
  const started = Date.now();
  const res = await call("POST", `${PATH}${pos ? `?pos=${pos}` : ""}`, { token: user.accessToken, body, env: { DB: metered.db } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { cost: { ...metered.cost(), ms: Date.now() - started }, body: res.body };
}

const page = { lists: { all: { ranges: [[0, 19]], timeline_limit: 1, required_state: [["m.room.create", ""], ["m.room.member", "$LAZY"]] } } };

describe("sliding sync cost", () => {
  it("sends a range wider than one response's worth of rooms over the responses that follow, at once", async () => {
    const user = await registerUser("sswide");
    const rooms = await seedRooms(user, 150);
    const lists = { all: { ranges: [[0, 199]], timeline_limit: 1, required_state: [] } };
    const first = await measured(user, { lists });
    const firstRooms = Object.keys(first.body["rooms"] as object);
    expect(firstRooms).toHaveLength(100);
    // The most recent rooms come first.
    expect(firstRooms).toContain(rooms[149]);
    expect(firstRooms).not.toContain(rooms[0]);
    const started = Date.now();
    const second = await measured(user, { lists }, `${first.body["pos"] as string}&timeout=10000`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(Object.keys(second.body["rooms"] as object).sort()).toEqual(rooms.slice(0, 50).sort());
    const third = await measured(user, { lists }, second.body["pos"] as string);
    expect(third.body["rooms"]).toEqual({});
  }, 60_000);

  it("reads timelines only for the rooms in range, and an incremental sync only for the room that changed", async () => {
    const results: Record<string, Cost> = {};
    for (const count of [20, 1000]) {
      const user = await registerUser("sscost");
      const rooms = await seedRooms(user, count);
      const initial = await measured(user, page);
      expect(Object.keys(initial.body["rooms"] as object)).toHaveLength(20);
      // The newest rooms come first: the last seeded is the most recent.
      expect(Object.keys(initial.body["rooms"] as object)).toContain(rooms[count - 1]);
      results[`${count} rooms, first page`] = initial.cost;

      // One changed room (it is outside the page, so it moves into it).
      await seedMessage(user, rooms[0]!, "one change");
      const incremental = await measured(user, page, initial.body["pos"] as string);
      expect(Object.keys(incremental.body["rooms"] as object)).toEqual([rooms[0]]);
      results[`${count} rooms, one change`] = incremental.cost;
    }
    console.log("sliding sync cost", JSON.stringify(results, null, 1));
    for (const [name, cost] of Object.entries(results)) {
      expect(cost.timelineReads, name).toBeLessThanOrEqual(name.endsWith("first page") ? 20 : 1);
    }
    // Round trips do not grow with the number of rooms.
    expect(results["1000 rooms, first page"]!.roundTrips).toBe(results["20 rooms, first page"]!.roundTrips);
    expect(results["1000 rooms, one change"]!.roundTrips).toBe(results["20 rooms, one change"]!.roundTrips);
  }, 60_000);
});
