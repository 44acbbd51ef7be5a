import { describe, expect, it } from "vitest";
import { defaultPushRules } from "../../src/push/default-rules";
import {
  type PushContext,
  type PushEvent,
  conditionMatches,
  evaluatePushRules,
  globMatches,
  memberCountMatches,
  splitKeyPath,
  valueAtPath,
} from "../../src/push/evaluate";
import { effectiveRuleset } from "../../src/push/ruleset";

const ME = "@alice:example.org";
const ctx = (over: Partial<PushContext> = {}): PushContext => ({
  userId: ME,
  displayName: "Alice",
  memberCount: 5,
  senderPowerLevel: 0,
  notificationLevels: {},
  ...over,
});
const message = (content: Record<string, unknown>, over: Partial<PushEvent> = {}): PushEvent => ({
  type: "m.room.message",
  sender: "@bob:example.org",
  room_id: "!room:example.org",
  event_id: "$e",
  content: { msgtype: "m.text", body: "hello", ...content },
  ...over,
});

describe("dotted key paths", () => {
  it("splits on unescaped dots, unescapes \\. and \\\\, keeps other backslashes", () => {
    expect(splitKeyPath("content.body")).toEqual(["content", "body"]);
    expect(splitKeyPath("content.m\\.relates_to.rel_type")).toEqual(["content", "m.relates_to", "rel_type"]);
    expect(splitKeyPath("content.m\\\\foo")).toEqual(["content", "m\\foo"]);
    expect(splitKeyPath("content.m\\xfoo")).toEqual(["content", "m\\xfoo"]);
  });

  it("reads nested values, and nothing through arrays or missing keys", () => {
    const event = { content: { "m.relates_to": { rel_type: "m.replace" }, list: [1] } };
    expect(valueAtPath(event, "content.m\\.relates_to.rel_type")).toBe("m.replace");
    expect(valueAtPath(event, "content.m.relates_to")).toBeUndefined();
    expect(valueAtPath(event, "content.list.0")).toBeUndefined();
  });
});

describe("event_match", () => {
  const cond = (key: string, pattern: string) => ({ kind: "event_match", key, pattern });

  it("globs the whole value, case-insensitively, with * and ?", () => {
    const topic = (t: unknown) => ({ type: "m.room.topic", content: { topic: t } });
    const lunch = cond("content.topic", "lunc?*");
    expect(conditionMatches(lunch, topic("Lunch plans"), ctx())).toBe(true);
    expect(conditionMatches(lunch, topic("LUNCH"), ctx())).toBe(true);
    expect(conditionMatches(lunch, topic(" lunch"), ctx())).toBe(false);
    expect(conditionMatches(lunch, topic("lunc"), ctx())).toBe(false);
    expect(conditionMatches(lunch, topic(null), ctx())).toBe(false);
    expect(conditionMatches(cond("content.absent", "*"), topic("x"), ctx())).toBe(false);
  });

  it("matches content.body at word boundaries only", () => {
    const example = cond("content.body", "ex*ple");
    expect(conditionMatches(example, message({ body: "An example event." }), ctx())).toBe(true);
    expect(conditionMatches(example, message({ body: "exple" }), ctx())).toBe(true);
    expect(conditionMatches(example, message({ body: "An exciting triple-whammy" }), ctx())).toBe(true);
    expect(conditionMatches(cond("content.body", "cake"), message({ body: "cakes are nice" }), ctx())).toBe(false);
    expect(conditionMatches(cond("content.body", "cake"), message({ body: "I like_cake" }), ctx())).toBe(false);
  });

  it("treats regex characters in patterns literally", () => {
    expect(globMatches("a.b", "axb", false)).toBe(false);
    expect(globMatches("(x)+", "(x)+", false)).toBe(true);
  });
});

describe("event_property_is and event_property_contains", () => {
  it("compares scalars exactly, without casting", () => {
    const create = { type: "m.room.create", content: { "m.federate": true } };
    const is = (value: unknown) => ({ kind: "event_property_is", key: "content.m\\.federate", value });
    expect(conditionMatches(is(true), create, ctx())).toBe(true);
    expect(conditionMatches(is("true"), create, ctx())).toBe(false);
    expect(conditionMatches(is(1), create, ctx())).toBe(false);
    expect(conditionMatches({ kind: "event_property_is", key: "content.x", value: null }, { content: { x: null } }, ctx())).toBe(true);
    expect(conditionMatches({ kind: "event_property_is", key: "content.x", value: null }, { content: {} }, ctx())).toBe(false);
  });

  it("finds a value in an array, not a part of one", () => {
    const aliases = { content: { alt_aliases: ["#somewhere:example.org", "#myroom:example.com"] } };
    const contains = (value: unknown) => ({ kind: "event_property_contains", key: "content.alt_aliases", value });
    expect(conditionMatches(contains("#myroom:example.com"), aliases, ctx())).toBe(true);
    expect(conditionMatches(contains(":example.com"), aliases, ctx())).toBe(false);
    expect(conditionMatches(contains("#x"), { content: { alt_aliases: "#x" } }, ctx())).toBe(false);
  });
});

describe("contains_display_name", () => {
  const cond = { kind: "contains_display_name" };
  it("matches the display name as a whole word, case-insensitively", () => {
    expect(conditionMatches(cond, message({ body: "hey alice, lunch?" }), ctx())).toBe(true);
    expect(conditionMatches(cond, message({ body: "malice aforethought" }), ctx())).toBe(false);
    expect(conditionMatches(cond, message({ body: "Alice" }), ctx({ displayName: null }))).toBe(false);
    expect(conditionMatches(cond, message({ body: "ping a.b*c!" }), ctx({ displayName: "a.b*c" }))).toBe(true);
  });
});

describe("room_member_count", () => {
  it("compares with ==, <, >, <=, >= (== when no prefix)", () => {
    expect(memberCountMatches("2", 2)).toBe(true);
    expect(memberCountMatches("==2", 3)).toBe(false);
    expect(memberCountMatches("<3", 2)).toBe(true);
    expect(memberCountMatches(">3", 3)).toBe(false);
    expect(memberCountMatches(">=3", 3)).toBe(true);
    expect(memberCountMatches("<=1", 2)).toBe(false);
    expect(memberCountMatches("two", 2)).toBe(false);
    expect(conditionMatches({ kind: "room_member_count", is: "2" }, message({}), ctx({ memberCount: 2 }))).toBe(true);
  });
});

describe("sender_notification_permission", () => {
  const cond = { kind: "sender_notification_permission", key: "room" };
  it("needs the sender's level to reach notifications.room (50 by default)", () => {
    expect(conditionMatches(cond, message({}), ctx({ senderPowerLevel: 50 }))).toBe(true);
    expect(conditionMatches(cond, message({}), ctx({ senderPowerLevel: 49 }))).toBe(false);
    expect(conditionMatches(cond, message({}), ctx({ senderPowerLevel: 10, notificationLevels: { room: 10 } }))).toBe(true);
    expect(conditionMatches(cond, message({}), ctx({ senderPowerLevel: 99, notificationLevels: { room: 100 } }))).toBe(false);
  });

  it("never matches an unknown condition kind", () => {
    expect(conditionMatches({ kind: "org.example.unknown" }, message({}), ctx())).toBe(false);
  });
});

describe("the default rules", () => {
  const rules = defaultPushRules(ME);
  const outcome = (event: PushEvent, c: PushContext = ctx()) => evaluatePushRules(rules, event, c);

  it("notify for a message in a DM, with a sound", () => {
    expect(outcome(message({}), ctx({ memberCount: 2 }))).toMatchObject({ ruleId: ".m.rule.room_one_to_one", notify: true, highlight: false });
  });

  it("notify quietly for a message in a group", () => {
    expect(outcome(message({}))).toMatchObject({ ruleId: ".m.rule.message", notify: true, highlight: false, actions: ["notify"] });
  });

  it("highlight a user mention, and a room mention by someone allowed to make one", () => {
    expect(outcome(message({ "m.mentions": { user_ids: [ME] } }))).toMatchObject({ ruleId: ".m.rule.is_user_mention", notify: true, highlight: true });
    expect(outcome(message({ "m.mentions": { user_ids: ["@carol:example.org"] } }))).toMatchObject({ ruleId: ".m.rule.message", highlight: false });
    const room = message({ "m.mentions": { room: true } });
    expect(outcome(room, ctx({ senderPowerLevel: 50 }))).toMatchObject({ ruleId: ".m.rule.is_room_mention", highlight: true });
    expect(outcome(room, ctx({ senderPowerLevel: 0 }))).toMatchObject({ ruleId: ".m.rule.message", highlight: false });
  });

  it("do not notify for edits, notices, reactions or member events", () => {
    const edit = message({ "m.relates_to": { rel_type: "m.replace", event_id: "$orig" }, "m.new_content": { body: "fixed" } });
    expect(outcome(edit)).toMatchObject({ ruleId: ".m.rule.suppress_edits", notify: false });
    expect(outcome(message({ msgtype: "m.notice" }), ctx({ memberCount: 2 }))).toMatchObject({ ruleId: ".m.rule.suppress_notices", notify: false });
    expect(outcome({ type: "m.reaction", sender: "@bob:example.org", content: {} })).toMatchObject({ notify: false });
    const join = { type: "m.room.member", state_key: "@bob:example.org", sender: "@bob:example.org", content: { membership: "join" } };
    expect(outcome(join)).toMatchObject({ ruleId: ".m.rule.member_event", notify: false });
  });

  it("notify for an invite of the user, and for encrypted messages", () => {
    const invite = { type: "m.room.member", state_key: ME, sender: "@bob:example.org", content: { membership: "invite" } };
    expect(outcome(invite)).toMatchObject({ ruleId: ".m.rule.invite_for_me", notify: true });
    expect(outcome({ type: "m.room.encrypted", sender: "@bob:example.org", content: {} }, ctx({ memberCount: 2 }))).toMatchObject({
      ruleId: ".m.rule.encrypted_room_one_to_one",
      notify: true,
    });
    expect(outcome({ type: "m.room.tombstone", state_key: "", sender: "@bob:example.org", content: {} })).toMatchObject({ highlight: true });
  });

  it("match nothing for unknown event types, and nothing at all once the master rule is on", () => {
    expect(outcome({ type: "org.example.custom", sender: "@bob:example.org", content: {} })).toBeNull();
    const stored = { global: { override: [{ rule_id: ".m.rule.master", default: true, enabled: true, actions: [], conditions: [] }] } };
    expect(evaluatePushRules(effectiveRuleset(ME, stored), message({}), ctx())).toMatchObject({ ruleId: ".m.rule.master", notify: false });
  });

  it("ignore the historical dont_notify and coalesce actions", () => {
    const stored = { global: { content: [{ rule_id: "tea", default: false, enabled: true, pattern: "tea", actions: ["dont_notify", "coalesce"] }] } };
    expect(evaluatePushRules(effectiveRuleset(ME, stored), message({ body: "time for tea" }), ctx())).toEqual({
      ruleId: "tea",
      actions: [],
      notify: false,
      highlight: false,
    });
  });

  it("apply room and sender rules by their ids", () => {
    const stored = {
      global: {
        room: [{ rule_id: "!quiet:example.org", default: false, enabled: true, actions: [] }],
        sender: [{ rule_id: "@boss:example.org", default: false, enabled: true, actions: ["notify", { set_tweak: "highlight", value: true }] }],
      },
    };
    const ruleset = effectiveRuleset(ME, stored);
    expect(evaluatePushRules(ruleset, message({}, { room_id: "!quiet:example.org" }), ctx())).toMatchObject({ ruleId: "!quiet:example.org", notify: false });
    expect(evaluatePushRules(ruleset, message({}, { sender: "@boss:example.org" }), ctx())).toMatchObject({ highlight: true });
  });
});
