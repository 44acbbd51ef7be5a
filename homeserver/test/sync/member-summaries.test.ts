import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { getMemberSummaries } from "../../src/storage/sync";
import { call, registerUser } from "../helpers";
import { createRoom, joinUser, r } from "../api/room-helpers";

describe("getMemberSummaries (all rooms in two statements)", () => {
  it("counts joined and invited members per room and lists heroes: joined or invited first in member-event order, then the rest, at most the limit", async () => {
    const [alice, bob, carol, dave, erin] = await Promise.all(["alice", "bob", "carol", "dave", "erin"].map((name) => registerUser(`sum${name}`)));
    const crowd = await Promise.all(Array.from({ length: 6 }, (_, i) => registerUser(`sumcrowd${i}`)));

    const busy = await createRoom(alice!);
    await joinUser(alice!, bob!, busy);
    await joinUser(alice!, carol!, busy);
    await joinUser(alice!, erin!, busy);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(busy)}/leave`, { token: erin!.accessToken })).status).toBe(200);
    expect((await call("POST", `/_matrix/client/v3/rooms/${r(busy)}/invite`, { token: alice!.accessToken, body: { user_id: dave!.userId } })).status).toBe(200);
    const alone = await createRoom(alice!);
    const crowded = await createRoom(alice!);
    for (const member of crowd) await joinUser(alice!, member, crowded);

    const summaries = await getMemberSummaries(env.DB, [busy, alone, crowded], alice!.userId, 5);
    expect(summaries.get(busy)).toEqual({
      joined: 3,
      invited: 1,
      heroes: [
        { user_id: bob!.userId, membership: "join" },
        { user_id: carol!.userId, membership: "join" },
        { user_id: dave!.userId, membership: "invite" },
        { user_id: erin!.userId, membership: "leave" },
      ],
    });
    expect(summaries.get(alone)).toEqual({ joined: 1, invited: 0, heroes: [] });
    expect(summaries.get(crowded)).toEqual({ joined: 7, invited: 0, heroes: crowd.slice(0, 5).map((u) => ({ user_id: u.userId, membership: "join" })) });
    expect(await getMemberSummaries(env.DB, [], alice!.userId, 5)).toEqual(new Map());
  }, 60_000);
});
