import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, registerUser } from "../helpers";
import { createRoom, sendMessage } from "./room-helpers";

/** A D1 binding that counts round trips (each first/all/run/raw, and each batch as one), as Workers' query budget does. */
function countingDb(db: D1Database): { db: D1Database; count: () => number } {
  let count = 0;
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return (...args: unknown[]) => {
            count++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          count++;
          return target.batch(statements.map((s) => real.get(s) ?? s));
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, count: () => count };
}

async function syncCost(user: TestUser, query: string): Promise<{ cost: number; body: Record<string, unknown> }> {
  const counted = countingDb(env.DB);
  const res = await call("GET", `/_matrix/client/v3/sync?${query}`, { token: user.accessToken, env: { DB: counted.db } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { cost: counted.count(), body: res.body };
}

async function userInRooms(count: number): Promise<{ user: TestUser; rooms: string[] }> {
  const user = await registerUser("scost");
  const rooms: string[] = [];
  for (let i = 0; i < count; i++) rooms.push(await createRoom(user));
  return { user, rooms };
}

describe("/sync cost in D1 round trips", () => {
  it("does not grow with the number of rooms, initial or incremental", async () => {
    const small = await userInRooms(1);
    const large = await userInRooms(8);
    const costs: Record<string, number> = {};
    for (const [name, { user, rooms }] of Object.entries({ small, large })) {
      const initial = await syncCost(user, "");
      costs[`${name} initial`] = initial.cost;
      await sendMessage(user, rooms[0]!, "one change");
      const incremental = await syncCost(user, `since=${initial.body["next_batch"] as string}`);
      costs[`${name} incremental`] = incremental.cost;
      expect(Object.keys((incremental.body["rooms"] as { join: object }).join)).toEqual([rooms[0]]);
    }
    // Rooms are read in batches (up to 50 rooms a round trip), so neither grows with the room count here.
    expect(costs["large incremental"]).toBe(costs["small incremental"]);
    expect(costs["large initial"]).toBe(costs["small initial"]);
  });
});
