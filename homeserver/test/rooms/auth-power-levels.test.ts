/**
 * Power levels: the effective and required levels, and the rules for type m.room.power_levels
 * (rule 9 in room versions 10 and 11, rule 10 in 12).
 */
import { describe, expect, it } from "vitest";
import { requiredPowerLevel, userPowerLevel } from "../../src/rooms/auth-rules";
import { ALICE, BOB, CAROL, DAVE, TestRoom, VERSIONS, makeCreate, standardRoom } from "./auth-fixtures";

/** Alice's entry where v10/v11 need one; v12 creators may not have one. */
function aliceEntry(version: string): Record<string, number> {
  return version === "12" ? {} : { [ALICE]: 100 };
}

describe.each(VERSIONS)("power levels in room version %s", (version) => {
  it("takes a user's level from users, else users_default", () => {
    const room = standardRoom(version, { powerLevels: { users: { ...aliceEntry(version), [BOB]: 42 }, users_default: 7 } });
    expect(userPowerLevel(version, BOB, room.state)).toBe(42);
    expect(userPowerLevel(version, CAROL, room.state)).toBe(7);
  });

  it("takes the required level from events, else state_default or events_default", () => {
    const room = standardRoom(version, {
      powerLevels: { users: aliceEntry(version), events: { "m.room.topic": 30 }, state_default: 40, events_default: 5 },
    });
    expect(requiredPowerLevel(version, "m.room.topic", true, room.state)).toBe(30);
    expect(requiredPowerLevel(version, "m.room.name", true, room.state)).toBe(40);
    expect(requiredPowerLevel(version, "m.room.message", false, room.state)).toBe(5);
  });

  it("defaults to state level 50, event level 0 and user level 0 without power levels", () => {
    const room = new TestRoom(version);
    expect(requiredPowerLevel(version, "m.room.name", true, room.state)).toBe(50);
    expect(requiredPowerLevel(version, "m.room.message", false, room.state)).toBe(0);
    expect(userPowerLevel(version, BOB, room.state)).toBe(0);
  });

  it("rejects power levels whose named levels are not integers", () => {
    const room = standardRoom(version);
    const send = (content: Record<string, unknown>) =>
      room.check(room.event("m.room.power_levels", ALICE, { users: aliceEntry(version), ...content }, { stateKey: "" }));
    expect(send({ ban: 60 })).toBeNull();
    expect(send({ ban: "60" })).toMatch(/'ban' is not an integer/);
    expect(send({ kick: 1.5 })).toMatch(/'kick' is not an integer/);
    expect(send({ users_default: null })).toMatch(/'users_default' is not an integer/);
    expect(send({ invite: 2 ** 53 })).toMatch(/'invite' is not an integer/);
  });

  it("rejects power levels whose events or notifications are not objects of integers", () => {
    const room = standardRoom(version);
    const send = (content: Record<string, unknown>) =>
      room.check(room.event("m.room.power_levels", ALICE, { users: aliceEntry(version), ...content }, { stateKey: "" }));
    expect(send({ events: { "m.room.name": 50 }, notifications: { room: 20 } })).toBeNull();
    expect(send({ events: [50] })).toMatch(/'events' is not an object/);
    expect(send({ events: { "m.room.name": "50" } })).toMatch(/'events.m.room.name' is not an integer/);
    expect(send({ notifications: { room: true } })).toMatch(/'notifications.room' is not an integer/);
  });

  it("rejects power levels whose users are not user ids with integer levels", () => {
    const room = standardRoom(version);
    const send = (users: unknown) => room.check(room.event("m.room.power_levels", ALICE, { users }, { stateKey: "" }));
    expect(send({ ...aliceEntry(version), [BOB]: 10 })).toBeNull();
    expect(send({ ...aliceEntry(version), bob: 10 })).toMatch(/not a user id/);
    expect(send({ ...aliceEntry(version), [BOB]: "10" })).toMatch(/not an integer/);
    expect(send("everyone")).toMatch(/'users' is not an object/);
  });

  it("allows the first power levels event without comparing levels", () => {
    const room = new TestRoom(version);
    room.send(room.member(ALICE, "join"));
    const content = { users: { ...aliceEntry(version), [BOB]: 1000 }, ban: 1000 };
    expect(room.check(room.event("m.room.power_levels", ALICE, content, { stateKey: "" }))).toBeNull();
  });

  it("rejects changing a named level whose current or new value is above the sender's level", () => {
    const base = { ...aliceEntry(version), [DAVE]: 50 };
    const room = standardRoom(version, { powerLevels: { users: base, ban: 60, kick: 40, state_default: 50 } });
    room.join(DAVE);
    const send = (content: Record<string, unknown>) =>
      room.check(room.event("m.room.power_levels", DAVE, { users: base, ban: 60, state_default: 50, ...content }, { stateKey: "" }));
    expect(send({ kick: 50 })).toBeNull();
    expect(send({ kick: 51 })).toMatch(/too low to change 'kick'/);
    expect(send({ kick: 40, ban: 50 })).toMatch(/too low to change 'ban'/);
    expect(send({ kick: 40, redact: 70 })).toMatch(/too low to change 'redact'/);
    expect(send({ kick: 40, ban: undefined })).toMatch(/too low to change 'ban'/);
  });

  it("rejects changing an events or notifications entry whose current or new value is above the sender's level", () => {
    const base = { ...aliceEntry(version), [DAVE]: 50 };
    const events = { "m.room.name": 50, "m.room.tombstone": 100 };
    const room = standardRoom(version, { powerLevels: { users: base, events, notifications: { room: 20 } } });
    room.join(DAVE);
    const send = (content: Record<string, unknown>) =>
      room.check(room.event("m.room.power_levels", DAVE, { users: base, ...content }, { stateKey: "" }));
    expect(send({ events: { ...events, "m.room.name": 0, "m.room.topic": 50 }, notifications: { room: 50 } })).toBeNull();
    expect(send({ events: { "m.room.name": 50 }, notifications: { room: 20 } })).toMatch(/'events.m.room.tombstone'/);
    expect(send({ events: { ...events, "m.room.topic": 51 }, notifications: { room: 20 } })).toMatch(/'events.m.room.topic'/);
    expect(send({ events, notifications: { room: 51 } })).toMatch(/'notifications.room'/);
  });

  it("rejects changing another user's entry unless it is below the sender's level", () => {
    const base = { ...aliceEntry(version), [DAVE]: 50, [CAROL]: 50, [BOB]: 10 };
    const room = standardRoom(version, { powerLevels: { users: base } });
    room.join(DAVE);
    const send = (users: Record<string, number>) => room.check(room.event("m.room.power_levels", DAVE, { users }, { stateKey: "" }));
    expect(send({ ...base, [BOB]: 40 })).toBeNull();
    expect(send({ ...base, [CAROL]: 10 })).toMatch(/not above .*carol/);
    const { [CAROL]: _removed, ...withoutCarol } = base;
    expect(send(withoutCarol)).toMatch(/not above .*carol/);
  });

  it("allows a sender to lower their own level", () => {
    const base = { ...aliceEntry(version), [DAVE]: 50 };
    const room = standardRoom(version, { powerLevels: { users: base } });
    room.join(DAVE);
    expect(room.check(room.event("m.room.power_levels", DAVE, { users: { ...base, [DAVE]: 0 } }, { stateKey: "" }))).toBeNull();
  });

  it("rejects giving a user a level above the sender's", () => {
    const base = { ...aliceEntry(version), [DAVE]: 50 };
    const room = standardRoom(version, { powerLevels: { users: base } });
    room.join(DAVE);
    const send = (users: Record<string, number>) => room.check(room.event("m.room.power_levels", DAVE, { users }, { stateKey: "" }));
    expect(send({ ...base, [BOB]: 50 })).toBeNull();
    expect(send({ ...base, [BOB]: 51 })).toMatch(/below the new level of @bob/);
    expect(send({ ...base, [DAVE]: 51 })).toMatch(/below the new level of @dave/);
  });
});

describe.each(["10", "11"] as const)("the creator without power levels in room version %s", (version) => {
  it("gives the creator level 100 until there is a power levels event", () => {
    const room = new TestRoom(version);
    expect(userPowerLevel(version, ALICE, room.state)).toBe(100);
    room.send(room.member(ALICE, "join"));
    room.send(room.event("m.room.power_levels", ALICE, { users: { [ALICE]: 20 } }, { stateKey: "" }));
    expect(userPowerLevel(version, ALICE, room.state)).toBe(20);
  });
});

describe("room creators in room version 12", () => {
  const create = () => makeCreate("12", { room_version: "12", additional_creators: [BOB] });

  it("gives the create sender and additional_creators infinite power level, with or without power levels", () => {
    const room = new TestRoom("12", create());
    expect(userPowerLevel("12", ALICE, room.state)).toBe(Number.POSITIVE_INFINITY);
    expect(userPowerLevel("12", BOB, room.state)).toBe(Number.POSITIVE_INFINITY);
    expect(userPowerLevel("12", CAROL, room.state)).toBe(0);
    room.send(room.member(ALICE, "join"));
    room.send(room.event("m.room.power_levels", ALICE, { users: { [CAROL]: 100 }, users_default: 5 }, { stateKey: "" }));
    expect(userPowerLevel("12", BOB, room.state)).toBe(Number.POSITIVE_INFINITY);
    expect(userPowerLevel("12", CAROL, room.state)).toBe(100);
    expect(userPowerLevel("12", DAVE, room.state)).toBe(5);
  });

  it("rejects power levels that list a room creator in users", () => {
    const room = new TestRoom("12", create());
    room.send(room.member(ALICE, "join"));
    const send = (users: Record<string, number>) => room.check(room.event("m.room.power_levels", ALICE, { users }, { stateKey: "" }));
    expect(send({ [CAROL]: 50 })).toBeNull();
    expect(send({ [ALICE]: 100 })).toMatch(/room creator @alice/);
    expect(send({ [BOB]: 100 })).toMatch(/room creator @bob/);
  });

  it("lets a creator set any level, as nothing is above infinity", () => {
    const room = standardRoom("12", { create: create(), powerLevels: { users: { [CAROL]: 100 }, ban: 100 } });
    const content = { users: { [CAROL]: 9_007_199_254_740_991, [DAVE]: 1_000_000 }, ban: 5_000 };
    expect(room.check(room.event("m.room.power_levels", BOB, content, { stateKey: "" }))).toMatch(/sender is not joined/);
    room.join(BOB);
    expect(room.check(room.event("m.room.power_levels", BOB, content, { stateKey: "" }))).toBeNull();
  });

  it("does not give a version 11 create sender infinite power once power levels exist", () => {
    const room = standardRoom("11", { powerLevels: { users: { [ALICE]: 100, [CAROL]: 100 } } });
    expect(userPowerLevel("11", ALICE, room.state)).toBe(100);
    room.join(CAROL);
    expect(room.check(room.event("m.room.power_levels", ALICE, { users: { [ALICE]: 100, [CAROL]: 0 } }, { stateKey: "" }))).toMatch(
      /not above .*carol/,
    );
  });
});
