import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";

interface Rule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: unknown[];
  conditions?: Record<string, unknown>[];
  pattern?: string;
}
type Ruleset = Record<string, Rule[]>;

const base = "/_matrix/client/v3/pushrules/global";
const path = (kind: string, ruleId: string, suffix = "") => `${base}/${kind}/${encodeURIComponent(ruleId)}${suffix}`;

async function ruleset(user: TestUser): Promise<Ruleset> {
  const res = await call<{ global: Ruleset }>("GET", "/_matrix/client/v3/pushrules/", { token: user.accessToken });
  expect(res.status).toBe(200);
  return res.body.global;
}

async function put(user: TestUser, kind: string, ruleId: string, body: unknown, query = "") {
  return call("PUT", `${path(kind, ruleId)}${query}`, { token: user.accessToken, body });
}

describe("GET /pushrules/", () => {
  it("serves the server-default rules, with the user's own id in the rules that name it", async () => {
    const alice = await registerUser("push");
    const global = await ruleset(alice);
    expect(Object.keys(global).sort()).toEqual(["content", "override", "room", "sender", "underride"]);
    expect(global["override"]!.map((r) => r.rule_id)[0]).toBe(".m.rule.master");
    const invite = global["override"]!.find((r) => r.rule_id === ".m.rule.invite_for_me")!;
    expect(invite.conditions).toContainEqual({ kind: "event_match", key: "state_key", pattern: alice.userId });
    const mention = global["override"]!.find((r) => r.rule_id === ".m.rule.is_user_mention")!;
    expect(mention.conditions).toEqual([{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: alice.userId }]);
    expect(global["underride"]!.map((r) => r.rule_id)).toEqual([
      ".m.rule.call",
      ".m.rule.encrypted_room_one_to_one",
      ".m.rule.room_one_to_one",
      ".m.rule.message",
      ".m.rule.encrypted",
    ]);
    const scoped = await call("GET", `${base}/`, { token: alice.accessToken });
    expect(scoped.body).toEqual(global);
    expectError(await call("GET", "/_matrix/client/v3/pushrules/"), 401, "M_MISSING_TOKEN");
  });
});

describe("user-defined push rules", () => {
  it("creates, reads, places, updates and deletes rules", async () => {
    const alice = await registerUser("push");
    expect((await put(alice, "content", "cake", { pattern: "cake*lie", actions: ["notify"] })).status).toBe(200);
    const got = await call<Rule>("GET", path("content", "cake"), { token: alice.accessToken });
    expect(got.body).toEqual({ rule_id: "cake", default: false, enabled: true, pattern: "cake*lie", actions: ["notify"] });

    // A new rule goes first; before/after place it relative to another user rule.
    expect((await put(alice, "content", "tea", { pattern: "tea", actions: [] })).status).toBe(200);
    expect((await put(alice, "content", "coffee", { pattern: "coffee", actions: [] }, "?after=tea")).status).toBe(200);
    expect((await put(alice, "content", "juice", { pattern: "juice", actions: [] }, "?before=cake")).status).toBe(200);
    expect((await ruleset(alice))["content"]!.map((r) => r.rule_id)).toEqual(["tea", "coffee", "juice", "cake"]);

    // An override rule comes after the master rule and before the other server defaults.
    const conditions = [{ kind: "event_match", key: "type", pattern: "org.example.ping" }];
    expect((await put(alice, "override", "pings", { conditions, actions: ["notify", { set_tweak: "highlight" }] })).status).toBe(200);
    const override = (await ruleset(alice))["override"]!;
    expect(override.slice(0, 3).map((r) => r.rule_id)).toEqual([".m.rule.master", "pings", ".m.rule.suppress_notices"]);
    expect(override[1]).toEqual({ rule_id: "pings", default: false, enabled: true, conditions, actions: ["notify", { set_tweak: "highlight" }] });

    // Updating in place keeps the position.
    expect((await put(alice, "content", "coffee", { pattern: "espresso", actions: ["notify"] })).status).toBe(200);
    const content = (await ruleset(alice))["content"]!;
    expect(content.map((r) => r.rule_id)).toEqual(["tea", "coffee", "juice", "cake"]);
    expect(content[1]!.pattern).toBe("espresso");

    expect((await call("DELETE", path("content", "tea"), { token: alice.accessToken })).status).toBe(200);
    expectError(await call("GET", path("content", "tea"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    expect((await ruleset(alice))["content"]!.map((r) => r.rule_id)).toEqual(["coffee", "juice", "cake"]);
  });

  it("accepts room and sender rules named by their ids", async () => {
    const alice = await registerUser("push");
    expect((await put(alice, "room", "!quiet:localhost", { actions: [] })).status).toBe(200);
    expect((await put(alice, "sender", "@boss:localhost", { actions: ["notify"] })).status).toBe(200);
    const got = await call<Rule>("GET", path("room", "!quiet:localhost"), { token: alice.accessToken });
    expect(got.body).toEqual({ rule_id: "!quiet:localhost", default: false, enabled: true, actions: [] });
    expectError(await put(alice, "room", "not-a-room", { actions: [] }), 400, "M_INVALID_PARAM");
    expectError(await put(alice, "sender", "not-a-user", { actions: [] }), 400, "M_INVALID_PARAM");
  });

  it("refuses bad rule ids, kinds, bodies and anchors", async () => {
    const alice = await registerUser("push");
    expectError(await put(alice, "override", ".m.rule.mine", { actions: [] }), 400, "M_INVALID_PARAM");
    expectError(await put(alice, "override", "a/b", { actions: [] }), 400, "M_INVALID_PARAM");
    expectError(await put(alice, "override", "a\\b", { actions: [] }), 400, "M_INVALID_PARAM");
    expectError(await put(alice, "sideways", "x", { actions: [] }), 400, "M_INVALID_PARAM");
    expectError(await put(alice, "content", "nopattern", { actions: ["notify"] }), 400, "M_MISSING_PARAM");
    expectError(await put(alice, "override", "noactions", { conditions: [] }), 400, "M_MISSING_PARAM");
    expectError(await put(alice, "override", "badaction", { actions: ["explode"] }), 400, "M_BAD_JSON");
    expectError(await put(alice, "override", "badcondition", { actions: [], conditions: [{ key: "type" }] }), 400, "M_MISSING_PARAM");
    expectError(await put(alice, "override", "anchored", { actions: [] }, "?before=nothere"), 404, "M_NOT_FOUND");
    expectError(await put(alice, "override", "anchored", { actions: [] }, "?after=.m.rule.message"), 400, "M_INVALID_PARAM");
    const notJson = await call("PUT", path("override", "x"), { token: alice.accessToken, rawBody: "{" });
    expectError(notJson, 400, "M_NOT_JSON");
    expect((await ruleset(alice))["override"]!.filter((r) => !r.default)).toEqual([]);
  });

  it("does not delete server-default rules, and 404s on unknown ones", async () => {
    const alice = await registerUser("push");
    expectError(await call("DELETE", path("override", ".m.rule.master"), { token: alice.accessToken }), 400, "M_INVALID_PARAM");
    expectError(await call("DELETE", path("override", "nothing"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("GET", path("underride", ".m.rule.master"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
  });
});

describe("enabled and actions", () => {
  it("reads and changes them, on server-default and user rules", async () => {
    const alice = await registerUser("push");
    const enabled = () => call<{ enabled: boolean }>("GET", path("override", ".m.rule.master", "/enabled"), { token: alice.accessToken });
    expect((await enabled()).body).toEqual({ enabled: false });
    expect((await call("PUT", path("override", ".m.rule.master", "/enabled"), { token: alice.accessToken, body: { enabled: true } })).status).toBe(200);
    expect((await enabled()).body).toEqual({ enabled: true });

    const actionsPath = path("underride", ".m.rule.message", "/actions");
    expect((await call("GET", actionsPath, { token: alice.accessToken })).body).toEqual({ actions: ["notify"] });
    const newActions = ["notify", { set_tweak: "sound", value: "default" }];
    expect((await call("PUT", actionsPath, { token: alice.accessToken, body: { actions: newActions } })).status).toBe(200);
    expect((await call("GET", actionsPath, { token: alice.accessToken })).body).toEqual({ actions: newActions });
    // The change survives alongside the current defaults; the rule keeps its place.
    const underride = (await ruleset(alice))["underride"]!;
    expect(underride.find((r) => r.rule_id === ".m.rule.message")).toMatchObject({ default: true, actions: newActions });
    expect(underride.map((r) => r.rule_id)[3]).toBe(".m.rule.message");

    // A rule updated with PUT keeps being disabled.
    expect((await put(alice, "override", "mine", { actions: [] })).status).toBe(200);
    expect((await call("PUT", path("override", "mine", "/enabled"), { token: alice.accessToken, body: { enabled: false } })).status).toBe(200);
    expect((await put(alice, "override", "mine", { actions: ["notify"] })).status).toBe(200);
    expect((await call("GET", path("override", "mine"), { token: alice.accessToken })).body).toMatchObject({ enabled: false, actions: ["notify"] });

    expectError(await call("PUT", path("override", "nothing", "/enabled"), { token: alice.accessToken, body: { enabled: true } }), 404, "M_NOT_FOUND");
    expectError(await call("PUT", path("override", ".m.rule.master", "/enabled"), { token: alice.accessToken, body: {} }), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", actionsPath, { token: alice.accessToken, body: { actions: "notify" } }), 400, "M_BAD_JSON");
    expectError(await call("GET", path("override", "nothing", "/actions"), { token: alice.accessToken }), 404, "M_NOT_FOUND");
  });
});

describe("push rules in /sync", () => {
  it("sends the defaults in an initial sync and every change as m.push_rules account data", async () => {
    const alice = await registerUser("push");
    const initial = await call<{ next_batch: string; account_data: { events: { type: string; content: { global: Ruleset } }[] } }>(
      "GET",
      "/_matrix/client/v3/sync",
      { token: alice.accessToken },
    );
    const rules = initial.body.account_data.events.find((e) => e.type === "m.push_rules")!;
    expect(rules.content.global).toEqual(await ruleset(alice));

    expect((await put(alice, "content", "cake", { pattern: "cake", actions: ["notify"] })).status).toBe(200);
    const next = await call<{ account_data: { events: { type: string; content: { global: Ruleset } }[] } }>(
      "GET",
      `/_matrix/client/v3/sync?since=${initial.body.next_batch}`,
      { token: alice.accessToken },
    );
    const changed = next.body.account_data.events.find((e) => e.type === "m.push_rules")!;
    expect(changed.content.global["content"]!.map((r) => r.rule_id)).toEqual(["cake"]);
    expect(changed.content.global).toEqual(await ruleset(alice));

    // Still only the push rules API writes them.
    const direct = await call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.push_rules`, {
      token: alice.accessToken,
      body: { global: {} },
    });
    expect(direct.status).toBe(405);
  });
});
