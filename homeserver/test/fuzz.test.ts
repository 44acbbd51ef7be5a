import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app";
import { call, registerUser } from "./helpers";

/**
 * Seeded fuzzing of every route: malformed bodies, wrong types, deep nesting, huge strings, tricky ids, path
 * traversal, wrong methods and bad tokens. The server must never answer 5xx, and keep working afterwards.
 * The seed is printed on failure; run another with `FUZZ_SEED=<n> npm test` (vitest.config.ts passes it in).
 */
const SEED = Number((env as unknown as { FUZZ_SEED: string }).FUZZ_SEED);
const REQUESTS = 3000;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const TRICKY_SEGMENTS = [
  "", "%00", "..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "@", "!", "$", "#", "@a", "!x", "$x",
  "@alice:localhost:8787", "!room:localhost:8787", "#alias:localhost:8787", "$event", "m.room.message",
  "ü%CC%88", "%F0%9F%92%A9", "%E2%80%AE", "%FF%FE", "a".repeat(300), "%40%3A", "1e309", "-1", "NaN",
  "%7B%7D", "null", "undefined", "__proto__", "constructor",
];

function randomValue(rand: Rand, depth: number): unknown {
  const kind = Math.floor(rand() * (depth > 6 ? 6 : 9));
  switch (kind) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick(rand, [0, -1, 1.5, 2 ** 53, -(2 ** 60), 1e308, Number.MAX_SAFE_INTEGER]);
    case 3: return pick(rand, ["", "x", "@a:b", "!r:b", "$e", "mxc://x/y", "\u0000", "\ud800", "💩", "m.login.password"]);
    case 4: return "y".repeat(Math.floor(rand() * 70_000));
    case 5: return pick(rand, ["m.login.dummy", "m.id.user", "join", "invite", "public", "b", "f"]);
    case 6: return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      const keys = ["type", "user_id", "content", "auth", "session", "identifier", "user", "password", "body", "msgtype",
        "membership", "name", "topic", "room_version", "invite", "device_id", "limit", "filter", "m.relates_to",
        "__proto__", "constructor", "devices", "display_name", "new_version", "reason", "visibility", "tags", "order"];
      for (let i = 0; i < 1 + Math.floor(rand() * 5); i++) obj[pick(rand, keys)] = randomValue(rand, depth + 1);
      return obj;
    }
  }
}

function deepNesting(levels: number): string {
  return "[".repeat(levels) + "]".repeat(levels);
}

function randomBody(rand: Rand): string | undefined {
  const kind = Math.floor(rand() * 8);
  if (kind === 0) return undefined;
  if (kind === 1) return "{not json";
  if (kind === 2) return deepNesting(5000);
  if (kind === 3) return JSON.stringify(randomValue(rand, 0)).slice(0, Math.floor(rand() * 50));
  return JSON.stringify(randomValue(rand, 0));
}

function fillPath(rand: Rand, pattern: string, knowns: Record<string, string>): string {
  return pattern
    .replace(/:([A-Za-z]+)\??/g, (_, name: string) => (rand() < 0.4 && knowns[name] ? encodeURIComponent(knowns[name]!) : pick(rand, TRICKY_SEGMENTS)))
    .replace(/\*/g, pick(rand, TRICKY_SEGMENTS));
}

const QUERIES = ["", "?limit=-1", "?limit=abc", "?dir=x", "?from=garbage", "?filter=%7B", "?filter=%5B%5D", "?since=s99999999999",
  "?user_id=%40x%3Ay", "?access_token=bad", "?ts=-5", "?width=99999&height=-1", "?kind=guest", "?username=%00"];

describe("fuzzing every route", () => {
  it(`answers ${REQUESTS} malformed requests without a 5xx (seed ${SEED})`, async () => {
    const user = await registerUser("fuzz");
    const created = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body: {} });
    const knowns: Record<string, string> = { userId: user.userId, roomId: created.body["room_id"] as string, deviceId: user.deviceId };
    const routes = buildApp().routes.filter((r) => r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(50);
    const rand = rng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const route = pick(rand, routes);
      const method = rand() < 0.1 ? pick(rand, ["GET", "PUT", "POST", "DELETE", "PATCH"]) : route.method;
      const path = fillPath(rand, route.path, knowns) + pick(rand, QUERIES);
      const body = method === "GET" || method === "HEAD" ? undefined : randomBody(rand);
      // Routes that sign the fuzzing user out would blind the rest of the run: they only get bad tokens.
      const destructive = /logout|deactivate|account\/password|delete_devices|\/devices\//.test(route.path);
      const token = destructive ? pick(rand, [undefined, "mat_bogus"]) : pick(rand, [user.accessToken, user.accessToken, undefined, "mat_bogus"]);
      const res = await call(method, path, { rawBody: body, token });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`#${i} ${method} ${path} body=${(body ?? "").slice(0, 200)} -> ${res.status} ${JSON.stringify(res.body)}`);
      else if (res.status >= 400 && res.headers.get("content-type")?.includes("json")) {
        // Matrix APIs answer {errcode, error} (or a UIA body); the OAuth endpoints outside /_matrix answer RFC 6749's {error}.
        const oauthError = !path.startsWith("/_matrix") && typeof res.body["error"] === "string";
        if (typeof res.body["errcode"] !== "string" && !("flows" in res.body) && !oauthError) {
          failures.push(`#${i} ${method} ${path} -> ${res.status} without errcode`);
        }
      }
    }
    expect(failures, `seed ${SEED}`).toEqual([]);
    // The run reached handlers, not just the router and the auth check.
    for (const status of [200, 400, 401, 403, 404]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(20);

    // A normal client flow still works afterwards (the fuzzing user may well have left its room by now).
    const fresh = await registerUser("afterfuzz");
    const room = await call("POST", "/_matrix/client/v3/createRoom", { token: fresh.accessToken, body: { name: "after" } });
    const roomPath = `/_matrix/client/v3/rooms/${encodeURIComponent(room.body["room_id"] as string)}`;
    const sent = await call("PUT", `${roomPath}/send/m.room.message/after-fuzz`, { token: fresh.accessToken, body: { msgtype: "m.text", body: "still alive" } });
    expect(sent.status).toBe(200);
    const page = await call<{ chunk: { event_id: string }[] }>("GET", `${roomPath}/messages?dir=b&limit=1`, { token: fresh.accessToken });
    expect(page.body.chunk.map((e) => e.event_id)).toEqual([sent.body["event_id"]]);
  }, 120_000);
});
