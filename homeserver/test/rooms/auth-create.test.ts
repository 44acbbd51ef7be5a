/**
 * Authorization rules on m.room.create, on the auth events themselves, and on m.federate
 * (rules 1-3 in room versions 10/11, rules 1-4 in 12), plus the auth events selection.
 */
import { describe, expect, it } from "vitest";
import { type AuthEvent, authEventTypesFor, checkAuth, checkAuthEvents } from "../../src/rooms/auth-rules";
import { ALICE, BOB, DAVE, VERSIONS, createContent, makeCreate, standardRoom } from "./auth-fixtures";

function checkCreate(version: "10" | "11" | "12", create: AuthEvent): string | null {
  return checkAuth(version, create, new Map());
}

describe.each(VERSIONS)("m.room.create in room version %s", (version) => {
  it("rejects a create event with prev_events", () => {
    const create = makeCreate(version);
    expect(checkCreate(version, create)).toBeNull();
    create.pdu.prev_events = ["$earlier"];
    expect(checkCreate(version, create)).toMatch(/prev_events/);
  });

  it("rejects a create event whose content.room_version is not recognised", () => {
    expect(checkCreate(version, makeCreate(version, { ...createContent(version), room_version: "9000" }))).toMatch(/room_version/);
    expect(checkCreate(version, makeCreate(version, { ...createContent(version), room_version: 11 }))).toMatch(/room_version/);
    const { room_version: _omitted, ...withoutVersion } = createContent(version);
    expect(checkCreate(version, makeCreate(version, withoutVersion))).toBeNull();
  });
});

describe.each(["10", "11"] as const)("m.room.create in room version %s", (version) => {
  it("rejects a create event whose room_id server name differs from the sender's", () => {
    const create = makeCreate(version);
    expect(checkCreate(version, create)).toBeNull();
    create.pdu.room_id = "!room:b.example";
    expect(checkCreate(version, create)).toMatch(/server name/);
    delete create.pdu.room_id;
    expect(checkCreate(version, create)).toMatch(/server name/);
  });

  it("ignores additional_creators before room version 12", () => {
    const create = makeCreate(version, { ...createContent(version), additional_creators: "not a list" });
    expect(checkCreate(version, create)).toBeNull();
  });
});

describe("m.room.create content.creator", () => {
  it("rejects a version 10 create event without content.creator", () => {
    expect(checkCreate("10", makeCreate("10", { room_version: "10" }))).toMatch(/creator/);
    expect(checkCreate("10", makeCreate("10", { room_version: "10", creator: ALICE }))).toBeNull();
  });

  it("allows a version 11 or 12 create event without content.creator, as the sender is the creator", () => {
    expect(checkCreate("11", makeCreate("11", { room_version: "11" }))).toBeNull();
    expect(checkCreate("12", makeCreate("12", { room_version: "12" }))).toBeNull();
  });
});

describe("m.room.create in room version 12", () => {
  it("rejects a create event that has a room_id", () => {
    const create = makeCreate("12");
    expect(checkCreate("12", create)).toBeNull();
    create.pdu.room_id = "!room:a.example";
    expect(checkCreate("12", create)).toMatch(/room_id/);
  });

  it("rejects additional_creators that are not an array of valid user ids", () => {
    const withCreators = (additional: unknown) => makeCreate("12", { room_version: "12", additional_creators: additional });
    expect(checkCreate("12", withCreators([BOB, "@ünïcode-historical:c.example"]))).toBeNull();
    expect(checkCreate("12", withCreators([]))).toBeNull();
    expect(checkCreate("12", withCreators(BOB))).toMatch(/additional_creators/);
    expect(checkCreate("12", withCreators([BOB, 7]))).toMatch(/additional_creators/);
    expect(checkCreate("12", withCreators(["bob:b.example"]))).toMatch(/additional_creators/);
    expect(checkCreate("12", withCreators(["@bob"]))).toMatch(/additional_creators/);
    expect(checkCreate("12", withCreators(["@bob:bad server"]))).toMatch(/additional_creators/);
    expect(checkCreate("12", withCreators([`@${"x".repeat(250)}:b.example`]))).toMatch(/additional_creators/);
  });

  it("rejects an event whose room_id is not the create event's id with sigil !", () => {
    const room = standardRoom("12");
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    expect(message.pdu.room_id).toBe(`!${room.create.event_id.slice(1)}`);
    expect(room.check(message)).toBeNull();
    message.pdu.room_id = "!someotherroom";
    expect(room.check(message)).toMatch(/room_id/);
  });
});

describe.each(VERSIONS)("auth events in room version %s", (version) => {
  it("rejects an event when there is no m.room.create event", () => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    const withoutCreate = new Map([...room.state].filter(([, event]) => event.pdu.type !== "m.room.create"));
    expect(checkAuth(version, message, withoutCreate)).toMatch(/m\.room\.create/);
  });

  it("rejects an event whose auth events are in another room", () => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    expect(room.check(message)).toBeNull();
    const stray = room.member(ALICE, "join");
    stray.pdu.room_id = "!elsewhere:a.example";
    room.apply(stray);
    expect(room.check(message)).toMatch(/another room/);
  });

  it("rejects an auth events list with duplicate (type, state_key) entries", () => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    const authEvents = message.pdu.auth_events.map((id) => [...room.state.values()].find((e) => e.event_id === id));
    const list = authEvents.filter((event): event is AuthEvent => event !== undefined);
    expect(checkAuthEvents(version, message, list)).toBeNull();
    const olderJoin = room.member(ALICE, "join");
    expect(checkAuthEvents(version, message, [...list, olderJoin])).toMatch(/duplicate/);
  });

  it("rejects an auth events list with entries outside the auth events selection", () => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    const topic = room.event("m.room.topic", ALICE, { topic: "t" }, { stateKey: "" });
    const joinRules = room.state.get("m.room.join_rules\u0000");
    const base = version === "12" ? [] : [room.create];
    expect(checkAuthEvents(version, message, [...base, topic])).toMatch(/not expected/);
    // A message does not need the join rules, only membership events do.
    expect(checkAuthEvents(version, message, [...base, ...(joinRules ? [joinRules] : [])])).toMatch(/not expected/);
  });

  it("rejects an auth events list whose entries are in another room", () => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    const stray = room.member(ALICE, "join");
    stray.pdu.room_id = "!elsewhere:a.example";
    const base = version === "12" ? [] : [room.create];
    expect(checkAuthEvents(version, message, [...base, stray])).toMatch(/another room/);
  });
});

describe("auth events and the m.room.create event", () => {
  it.each(["10", "11"] as const)("rejects a version %s auth events list without m.room.create", (version) => {
    const room = standardRoom(version);
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    expect(checkAuthEvents(version, message, [room.create])).toBeNull();
    expect(checkAuthEvents(version, message, [])).toMatch(/m\.room\.create/);
  });

  it("rejects a version 12 auth events list that includes m.room.create", () => {
    const room = standardRoom("12");
    const message = room.event("m.room.message", ALICE, { body: "hi" });
    expect(checkAuthEvents("12", message, [])).toBeNull();
    expect(checkAuthEvents("12", message, [room.create])).toMatch(/not expected/);
  });
});

describe.each(VERSIONS)("m.federate in room version %s", (version) => {
  it("rejects events from other servers when m.federate is false", () => {
    const create = makeCreate(version, { ...createContent(version), "m.federate": false });
    const room = standardRoom(version, { create, joinRule: "public" });
    expect(room.check(room.member(BOB, "join"))).toMatch(/m\.federate/);
    expect(room.check(room.member(DAVE, "join"))).toBeNull();
  });
});

describe("auth events selection", () => {
  it("selects nothing for m.room.create", () => {
    expect(authEventTypesFor("11", { type: "m.room.create", sender: ALICE, state_key: "", content: {} })).toEqual([]);
  });

  it("selects the create event, power levels and the sender's membership, without the create event in v12", () => {
    const message = { type: "m.room.message", sender: BOB, content: {} };
    const common: Array<[string, string]> = [
      ["m.room.power_levels", ""],
      ["m.room.member", BOB],
    ];
    expect(authEventTypesFor("10", message)).toEqual([["m.room.create", ""], ...common]);
    expect(authEventTypesFor("11", message)).toEqual([["m.room.create", ""], ...common]);
    expect(authEventTypesFor("12", message)).toEqual(common);
  });

  it("selects the target, join rules and authorising user for a restricted join, once each", () => {
    const join = { type: "m.room.member", sender: BOB, state_key: BOB, content: { membership: "join", join_authorised_via_users_server: DAVE } };
    expect(authEventTypesFor("12", join)).toEqual([
      ["m.room.power_levels", ""],
      ["m.room.member", BOB],
      ["m.room.join_rules", ""],
      ["m.room.member", DAVE],
    ]);
  });

  it("selects the m.room.third_party_invite named by the token for a third-party invite", () => {
    const invite = {
      type: "m.room.member",
      sender: ALICE,
      state_key: BOB,
      content: { membership: "invite", third_party_invite: { signed: { mxid: BOB, token: "abc" } } },
    };
    expect(authEventTypesFor("11", invite)).toContainEqual(["m.room.third_party_invite", "abc"]);
  });

  it("selects no join rules for leave or ban", () => {
    const kick = { type: "m.room.member", sender: ALICE, state_key: BOB, content: { membership: "leave" } };
    expect(authEventTypesFor("11", kick).map(([type]) => type)).not.toContain("m.room.join_rules");
  });
});
