/**
 * The rules for every other event (rules 5-8 and 10 in room versions 10/11, 6-9 and 11 in 12), and redactions:
 * the auth rules treat them like any event, "Handling redactions" decides whether to apply them.
 */
import { describe, expect, it } from "vitest";
import { checkRedaction, redactsOf, userPowerLevel } from "../../src/rooms/auth-rules";
import { ALICE, BOB, CAROL, DAVE, VERSIONS, standardRoom } from "./auth-fixtures";

function aliceEntry(version: string): Record<string, number> {
  return version === "12" ? {} : { [ALICE]: 100 };
}

describe.each(VERSIONS)("other events in room version %s", (version) => {
  it("rejects an event from a sender who is not joined", () => {
    const room = standardRoom(version);
    expect(room.check(room.event("m.room.message", BOB, { body: "hi" }))).toMatch(/sender is not joined/);
    room.send(room.member(BOB, "invite", ALICE));
    expect(room.check(room.event("m.room.message", BOB, { body: "hi" }))).toMatch(/sender is not joined/);
    room.send(room.member(BOB, "join"));
    expect(room.check(room.event("m.room.message", BOB, { body: "hi" }))).toBeNull();
  });

  it("allows m.room.third_party_invite if and only if the sender is at or above the invite level", () => {
    const room = standardRoom(version, { powerLevels: { users: { ...aliceEntry(version), [BOB]: 20 }, invite: 20, state_default: 100 } });
    room.join(BOB);
    room.join(CAROL);
    const invite = (sender: string) => room.event("m.room.third_party_invite", sender, { display_name: "x" }, { stateKey: "token" });
    // Allowed by the invite level even though state_default would forbid it.
    expect(room.check(invite(BOB))).toBeNull();
    expect(room.check(invite(CAROL))).toMatch(/invite level/);
  });

  it("rejects an event whose required power level is above the sender's", () => {
    const users = { ...aliceEntry(version), [BOB]: 50 };
    const room = standardRoom(version, { powerLevels: { users, events: { "m.room.name": 60 }, events_default: 10 } });
    room.join(BOB);
    room.join(CAROL);
    expect(room.check(room.event("m.room.topic", BOB, { topic: "t" }, { stateKey: "" }))).toBeNull();
    expect(room.check(room.event("m.room.name", BOB, { name: "n" }, { stateKey: "" }))).toMatch(/below the 60 required/);
    expect(room.check(room.event("m.room.message", BOB, { body: "hi" }))).toBeNull();
    expect(room.check(room.event("m.room.message", CAROL, { body: "hi" }))).toMatch(/below the 10 required/);
    expect(room.check(room.event("m.room.topic", CAROL, { topic: "t" }, { stateKey: "" }))).toMatch(/below the 50 required/);
  });

  it("rejects a state_key starting with '@' that is not the sender", () => {
    const room = standardRoom(version, { powerLevels: { users: aliceEntry(version), state_default: 0 } });
    room.join(BOB);
    expect(room.check(room.event("org.example.status", BOB, {}, { stateKey: BOB }))).toBeNull();
    expect(room.check(room.event("org.example.status", BOB, {}, { stateKey: CAROL }))).toMatch(/'@'/);
    expect(room.check(room.event("org.example.status", BOB, {}, { stateKey: "plain" }))).toBeNull();
  });

  it("allows a redaction by any member, as the auth rules ignore the redact level", () => {
    const room = standardRoom(version, { powerLevels: { users: aliceEntry(version), redact: 100 } });
    room.join(BOB);
    const target = room.send(room.event("m.room.message", ALICE, { body: "hi" }));
    const redaction = room.event("m.room.redaction", BOB, { redacts: target.event_id }, { pdu: { redacts: target.event_id } });
    expect(room.check(redaction)).toBeNull();
  });

  it("rejects a redaction below the level that events sets for m.room.redaction", () => {
    const room = standardRoom(version, { powerLevels: { users: aliceEntry(version), events: { "m.room.redaction": 10 } } });
    room.join(BOB);
    const target = room.send(room.event("m.room.message", BOB, { body: "hi" }));
    expect(room.check(room.event("m.room.redaction", BOB, { redacts: target.event_id }))).toMatch(/m\.room\.redaction/);
  });
});

describe("the target of a redaction", () => {
  it("is content.redacts from version 11 and the top-level redacts in version 10", () => {
    const room = standardRoom("11");
    const redaction = room.event("m.room.redaction", ALICE, { redacts: "$new" }, { pdu: { redacts: "$old" } });
    expect(redactsOf("10", redaction.pdu)).toBe("$old");
    expect(redactsOf("11", redaction.pdu)).toBe("$new");
    expect(redactsOf("12", redaction.pdu)).toBe("$new");
    expect(redactsOf("12", room.event("m.room.redaction", ALICE, {}).pdu)).toBeNull();
  });
});

describe.each(VERSIONS)("handling redactions in room version %s", (version) => {
  const redactionOf = (room: ReturnType<typeof standardRoom>, sender: string, targetId: string) =>
    room.event("m.room.redaction", sender, { redacts: targetId }, { pdu: { redacts: targetId } });

  it("applies a redaction by a sender at or above the redact level", () => {
    const room = standardRoom(version, { powerLevels: { users: aliceEntry(version), redact: 50 } });
    room.join(BOB);
    const original = room.send(room.event("m.room.message", BOB, { body: "spam" }));
    expect(userPowerLevel(version, ALICE, room.state)).toBeGreaterThanOrEqual(50);
    expect(checkRedaction(version, redactionOf(room, ALICE, original.event_id), original, room.state)).toBeNull();
  });

  it("applies a redaction below the redact level only when its sender's server sent the original", () => {
    const room = standardRoom(version);
    room.join(BOB);
    room.join(CAROL);
    room.join(DAVE);
    const bobs = room.send(room.event("m.room.message", BOB, { body: "mine" }));
    const alices = room.send(room.event("m.room.message", ALICE, { body: "theirs" }));
    expect(checkRedaction(version, redactionOf(room, BOB, bobs.event_id), bobs, room.state)).toBeNull();
    // Dave shares Alice's server: the spec leaves such redactions to that server.
    expect(checkRedaction(version, redactionOf(room, DAVE, alices.event_id), alices, room.state)).toBeNull();
    expect(checkRedaction(version, redactionOf(room, CAROL, bobs.event_id), bobs, room.state)).toMatch(/another server/);
  });

  it("does not apply a redaction to an event it does not name", () => {
    const room = standardRoom(version);
    const first = room.send(room.event("m.room.message", ALICE, { body: "one" }));
    const second = room.send(room.event("m.room.message", ALICE, { body: "two" }));
    expect(checkRedaction(version, redactionOf(room, ALICE, first.event_id), second, room.state)).toMatch(/does not target/);
  });
});
