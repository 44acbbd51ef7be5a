import { describe, expect, it } from "vitest";
import { type TestUser, call, registerUser } from "../helpers";

interface SyncJson {
  next_batch: string;
  account_data: { events: { type: string; content: Record<string, unknown> }[] };
}

/** Starts a long-poll /sync, runs `write` while it waits, and returns what the sync answered and how long it took. */
async function syncAround(user: TestUser, write: () => Promise<unknown>): Promise<{ body: SyncJson; ms: number }> {
  const initial = await call<SyncJson>("GET", "/_matrix/client/v3/sync?set_presence=offline", { token: user.accessToken });
  const started = Date.now();
  const waiting = call<SyncJson>("GET", `/_matrix/client/v3/sync?since=${initial.body.next_batch}&timeout=20000&set_presence=offline`, {
    token: user.accessToken,
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  await write();
  const res = await waiting;
  expect(res.status).toBe(200);
  return { body: res.body, ms: Date.now() - started };
}

describe("writes of the owner's account data wake their waiting /sync", () => {
  it("a push rules change", async () => {
    const alice = await registerUser("wake");
    const { body, ms } = await syncAround(alice, () =>
      call("PUT", "/_matrix/client/v3/pushrules/global/content/cake", { token: alice.accessToken, body: { pattern: "cake", actions: ["notify"] } }),
    );
    expect(ms).toBeLessThan(10_000);
    expect(body.account_data.events.map((e) => e.type)).toEqual(["m.push_rules"]);
  });

  it("global account data set through the account data API", async () => {
    const alice = await registerUser("wake");
    const { body, ms } = await syncAround(alice, () =>
      call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.secret_storage.default_key`, {
        token: alice.accessToken,
        body: { key: "abc" },
      }),
    );
    expect(ms).toBeLessThan(10_000);
    expect(body.account_data.events).toEqual([{ type: "m.secret_storage.default_key", content: { key: "abc" } }]);
  });
});
