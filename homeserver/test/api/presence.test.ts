import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";
import { createRoom, joinUser } from "./room-helpers";

const statusPath = (userId: string) => `/_matrix/client/v3/presence/${encodeURIComponent(userId)}/status`;
const setStatus = (user: TestUser, body: unknown, userId = user.userId) => call("PUT", statusPath(userId), { token: user.accessToken, body });
const getStatus = (viewer: TestUser, userId: string) => call("GET", statusPath(userId), { token: viewer.accessToken });

interface PresenceEventJson {
  type: string;
  sender: string;
  content: Record<string, unknown>;
}
async function syncPresence(user: TestUser, query: string): Promise<{ next_batch: string; events: PresenceEventJson[] }> {
  const res = await call<{ next_batch: string; presence?: { events: PresenceEventJson[] } }>("GET", `/_matrix/client/v3/sync?${query}`, {
    token: user.accessToken,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { next_batch: res.body.next_batch, events: res.body.presence?.events ?? [] };
}

describe("presence", () => {
  it("sets and reads your own status; only you may set it", async () => {
    const alice = await registerUser("pres");
    const bob = await registerUser("pres");
    expect((await getStatus(alice, alice.userId)).body).toEqual({ presence: "offline" });
    expect((await setStatus(alice, { presence: "unavailable", status_msg: "lunch" })).status).toBe(200);
    const mine = await getStatus(alice, alice.userId);
    expect(mine.body).toMatchObject({ presence: "unavailable", status_msg: "lunch", currently_active: false });
    expect(typeof mine.body["last_active_ago"]).toBe("number");

    expectError(await setStatus(bob, { presence: "offline" }, alice.userId), 403, "M_FORBIDDEN");
    expectError(await setStatus(alice, { presence: "asleep" }), 400, "M_BAD_JSON");
    expectError(await setStatus(alice, {}), 400, "M_MISSING_PARAM");
  });

  it("is visible only to users sharing a room", async () => {
    const alice = await registerUser("pres");
    const bob = await registerUser("pres");
    expect((await setStatus(alice, { presence: "online", status_msg: "here" })).status).toBe(200);
    expectError(await getStatus(bob, alice.userId), 403, "M_FORBIDDEN");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);
    expect((await getStatus(bob, alice.userId)).body).toMatchObject({ presence: "online", status_msg: "here", currently_active: true });
  });

  it("sends changes in /sync to users sharing rooms, and set_presence updates the caller", async () => {
    const alice = await registerUser("pres");
    const bob = await registerUser("pres");
    const carol = await registerUser("pres");
    const roomId = await createRoom(alice);
    await joinUser(alice, bob, roomId);

    // An initial sync with set_presence=offline does not change presence: bob's sync has no alice yet.
    const start = await syncPresence(bob, "set_presence=offline");
    expect(start.events.filter((e) => e.sender === alice.userId)).toEqual([]);

    // A sync marks alice online (the default) ...
    const aliceSync = await syncPresence(alice, "");
    expect(aliceSync.events.find((e) => e.sender === alice.userId)?.content).toMatchObject({ presence: "online", currently_active: true });
    const next = await syncPresence(bob, `since=${start.next_batch}&set_presence=offline`);
    expect(next.events).toEqual([{ type: "m.presence", sender: alice.userId, content: expect.objectContaining({ presence: "online" }) }]);

    // ... then a status change shows once, and nothing repeats.
    expect((await setStatus(alice, { presence: "unavailable", status_msg: "away" })).status).toBe(200);
    const change = await syncPresence(bob, `since=${next.next_batch}&set_presence=offline`);
    expect(change.events.map((e) => e.content)).toEqual([expect.objectContaining({ presence: "unavailable", status_msg: "away" })]);
    const quiet = await syncPresence(bob, `since=${change.next_batch}&set_presence=offline&timeout=0`);
    expect(quiet.events).toEqual([]);

    // A sync's default "online" does not override an explicit unavailable.
    await syncPresence(alice, "");
    expect((await getStatus(alice, alice.userId)).body).toMatchObject({ presence: "unavailable" });

    // Carol shares no room with alice: she never sees her presence.
    const carols = await syncPresence(carol, "set_presence=offline");
    expect(carols.events.filter((e) => e.sender === alice.userId)).toEqual([]);

    // The presence filter applies.
    const filter = encodeURIComponent(JSON.stringify({ presence: { not_senders: [alice.userId] } }));
    expect((await syncPresence(bob, `filter=${filter}&set_presence=offline`)).events.filter((e) => e.sender === alice.userId)).toEqual([]);
  });

  it("takes a user whose syncing stopped offline, but not one whose presence is only ever PUT", async () => {
    const alice = await registerUser("pres");
    const ghost = await registerUser("pres");
    const bob = await registerUser("pres");
    const roomId = await createRoom(bob);
    await joinUser(bob, alice, roomId);
    await joinUser(bob, ghost, roomId);
    await syncPresence(alice, "");
    expect((await setStatus(ghost, { presence: "online" })).status).toBe(200);
    const start = await syncPresence(bob, "set_presence=offline");
    expect(start.events.filter((e) => e.sender !== bob.userId).map((e) => [e.sender, e.content["presence"]]).sort()).toEqual(
      [
        [alice.userId, "online"],
        [ghost.userId, "online"],
      ].sort(),
    );

    // Ten minutes without a sync from either.
    const past = Date.now() - 10 * 60_000;
    await env.DB.prepare("UPDATE presence SET last_active_ts = ? WHERE user_id IN (?, ?)").bind(past, alice.userId, ghost.userId).run();
    await syncPresence(bob, "set_presence=offline");
    const later = await syncPresence(bob, `since=${start.next_batch}&set_presence=offline`);
    expect(later.events.map((e) => [e.sender, e.content["presence"]])).toEqual([[alice.userId, "offline"]]);
    expect((await getStatus(bob, ghost.userId)).body).toMatchObject({ presence: "online", currently_active: false });

    // Syncing again brings her back.
    await syncPresence(alice, "");
    expect((await getStatus(bob, alice.userId)).body).toMatchObject({ presence: "online", currently_active: true });
  });
});
