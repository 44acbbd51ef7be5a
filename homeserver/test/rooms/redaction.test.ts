import { describe, expect, it } from "vitest";
import type { Pdu, RoomVersionId } from "../../src/rooms/pdu";
import { redactContent, redactEvent } from "../../src/rooms/redaction";

const ALL_VERSIONS: RoomVersionId[] = ["10", "11", "12"];
const V11_RULES: RoomVersionId[] = ["11", "12"];

function event(type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}): Pdu {
  return {
    event_id: "$legacy",
    room_id: "!room:example.org",
    sender: "@alice:example.org",
    origin_server_ts: 1_700_000_000_000,
    type,
    state_key: "",
    content,
    prev_events: ["$prev"],
    auth_events: ["$auth"],
    depth: 7,
    hashes: { sha256: "aGFzaA" },
    signatures: { "example.org": { "ed25519:1": "c2ln" } },
    unsigned: { age_ts: 1 },
    ...extra,
  };
}

const ESSENTIAL_KEYS = [
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "auth_events",
  "origin_server_ts",
];

describe("redaction: top-level keys", () => {
  it.each(ALL_VERSIONS)("v%s keeps the essential keys with their values", (version) => {
    const pdu = event("m.room.message", {});
    const redacted = redactEvent(pdu, version);
    expect(Object.keys(redacted).sort()).toEqual([...ESSENTIAL_KEYS].sort());
    for (const key of ESSENTIAL_KEYS) expect(redacted[key]).toEqual(pdu[key]);
  });

  it.each(ALL_VERSIONS)("v%s strips unsigned, top-level redacts and unknown keys", (version) => {
    const redacted = redactEvent(event("m.room.redaction", {}, { redacts: "$target", age_ts: 5, extra: 1 }), version);
    expect(redacted).not.toHaveProperty("unsigned");
    expect(redacted).not.toHaveProperty("redacts");
    expect(redacted).not.toHaveProperty("age_ts");
    expect(redacted).not.toHaveProperty("extra");
  });

  it("v10 keeps origin, membership and prev_state", () => {
    const redacted = redactEvent(event("m.room.message", {}, { origin: "example.org", membership: "join", prev_state: [] }), "10");
    expect(redacted).toMatchObject({ origin: "example.org", membership: "join", prev_state: [] });
  });

  it.each(V11_RULES)("v%s strips origin, membership and prev_state", (version) => {
    const redacted = redactEvent(event("m.room.message", {}, { origin: "example.org", membership: "join", prev_state: [] }), version);
    expect(redacted).not.toHaveProperty("origin");
    expect(redacted).not.toHaveProperty("membership");
    expect(redacted).not.toHaveProperty("prev_state");
  });

  it.each(ALL_VERSIONS)("v%s redacts the content too", (version) => {
    expect(redactEvent(event("m.room.message", { body: "secret", msgtype: "m.text" }), version).content).toEqual({});
  });

  it("does not modify the event it is given", () => {
    const pdu = event("m.room.member", { membership: "join", displayname: "Alice", third_party_invite: { signed: {}, display_name: "a" } });
    const before = structuredClone(pdu);
    redactEvent(pdu, "10");
    redactEvent(pdu, "12");
    expect(pdu).toEqual(before);
  });
});

describe("redaction: m.room.member", () => {
  const content = {
    membership: "join",
    join_authorised_via_users_server: "@admin:example.org",
    displayname: "Alice",
    avatar_url: "mxc://example.org/a",
    reason: "hi",
  };

  it.each(ALL_VERSIONS)("v%s keeps membership and join_authorised_via_users_server, strips the rest", (version) => {
    expect(redactContent("m.room.member", content, version)).toEqual({
      membership: "join",
      join_authorised_via_users_server: "@admin:example.org",
    });
  });

  const invite = { membership: "invite", third_party_invite: { display_name: "alice@example.com", signed: { mxid: "@a:x", token: "t" } } };

  it("v10 strips third_party_invite", () => {
    expect(redactContent("m.room.member", invite, "10")).toEqual({ membership: "invite" });
  });

  it.each(V11_RULES)("v%s keeps third_party_invite.signed and strips its other keys", (version) => {
    expect(redactContent("m.room.member", invite, version)).toEqual({
      membership: "invite",
      third_party_invite: { signed: { mxid: "@a:x", token: "t" } },
    });
  });

  it.each(V11_RULES)("v%s keeps a third_party_invite without signed as an empty object", (version) => {
    expect(redactContent("m.room.member", { membership: "invite", third_party_invite: { display_name: "a" } }, version)).toEqual({
      membership: "invite",
      third_party_invite: {},
    });
  });

  it.each(V11_RULES)("v%s strips a third_party_invite that is not an object", (version) => {
    expect(redactContent("m.room.member", { membership: "invite", third_party_invite: "x" }, version)).toEqual({ membership: "invite" });
  });
});

describe("redaction: m.room.create", () => {
  const content = { creator: "@alice:example.org", room_version: "10", "m.federate": false, predecessor: { room_id: "!old:x" } };

  it("v10 keeps creator only", () => {
    expect(redactContent("m.room.create", content, "10")).toEqual({ creator: "@alice:example.org" });
  });

  it.each(V11_RULES)("v%s keeps all content, including additional_creators", (version) => {
    const v12Content = { room_version: "12", additional_creators: ["@bob:example.com"], "m.federate": false, custom: { x: 1 } };
    expect(redactContent("m.room.create", v12Content, version)).toEqual(v12Content);
    expect(redactContent("m.room.create", v12Content, version)).not.toBe(v12Content);
  });
});

describe("redaction: m.room.join_rules", () => {
  it.each(ALL_VERSIONS)("v%s keeps join_rule and allow, strips the rest", (version) => {
    const allow = [{ type: "m.room_membership", room_id: "!space:x" }];
    expect(redactContent("m.room.join_rules", { join_rule: "restricted", allow, other: 1 }, version)).toEqual({ join_rule: "restricted", allow });
  });
});

describe("redaction: m.room.power_levels", () => {
  const content = {
    ban: 50,
    events: { "m.room.name": 50 },
    events_default: 0,
    invite: 0,
    kick: 50,
    redact: 50,
    state_default: 50,
    users: { "@alice:example.org": 100 },
    users_default: 0,
    notifications: { room: 50 },
  };
  const { invite: _invite, notifications: _notifications, ...withoutInvite } = content;

  it("v10 keeps the levels except invite, strips notifications", () => {
    expect(redactContent("m.room.power_levels", content, "10")).toEqual(withoutInvite);
  });

  it.each(V11_RULES)("v%s also keeps invite, strips notifications", (version) => {
    expect(redactContent("m.room.power_levels", content, version)).toEqual({ ...withoutInvite, invite: 0 });
  });
});

describe("redaction: m.room.history_visibility", () => {
  it.each(ALL_VERSIONS)("v%s keeps history_visibility, strips the rest", (version) => {
    expect(redactContent("m.room.history_visibility", { history_visibility: "shared", other: 1 }, version)).toEqual({
      history_visibility: "shared",
    });
  });
});

describe("redaction: m.room.redaction", () => {
  it("v10 strips content.redacts (its target is the top-level redacts, also stripped)", () => {
    expect(redactContent("m.room.redaction", { redacts: "$target", reason: "spam" }, "10")).toEqual({});
  });

  it.each(V11_RULES)("v%s keeps content.redacts, strips reason", (version) => {
    expect(redactContent("m.room.redaction", { redacts: "$target", reason: "spam" }, version)).toEqual({ redacts: "$target" });
  });
});

describe("redaction: other event types", () => {
  it.each(ALL_VERSIONS)("v%s strips m.room.aliases (protected only before room version 6)", (version) => {
    expect(redactContent("m.room.aliases", { aliases: ["#a:x"] }, version)).toEqual({});
  });

  it.each(ALL_VERSIONS)("v%s strips all content of other types, state or not", (version) => {
    expect(redactContent("m.room.topic", { topic: "t" }, version)).toEqual({});
    expect(redactContent("m.room.name", { name: "n" }, version)).toEqual({});
    expect(redactContent("m.room.message", { body: "b", "m.relates_to": { rel_type: "m.thread", event_id: "$x" } }, version)).toEqual({});
  });
});
