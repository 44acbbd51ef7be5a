/** Authorization rules for type m.room.member (rule 4 in room versions 10 and 11, rule 5 in 12). */
import { describe, expect, it } from "vitest";
import { ALICE, BOB, CAROL, DAVE, TestRoom, VERSIONS, makeCreate, standardRoom } from "./auth-fixtures";

describe.each(VERSIONS)("m.room.member in room version %s", (version) => {
  it("rejects a membership event without a state_key or content.membership", () => {
    const room = standardRoom(version, { joinRule: "public" });
    const noStateKey = room.event("m.room.member", BOB, { membership: "join" });
    expect(room.check(noStateKey)).toMatch(/state_key/);
    expect(room.check(room.event("m.room.member", BOB, {}, { stateKey: BOB }))).toMatch(/membership/);
  });

  it("rejects an unknown membership", () => {
    const room = standardRoom(version, { joinRule: "public" });
    expect(room.check(room.member(BOB, "wander"))).toMatch(/unknown membership/);
  });

  describe("join", () => {
    it("allows the creator's join when the only previous event is m.room.create", () => {
      const room = new TestRoom(version);
      expect(room.check(room.member(ALICE, "join"))).toBeNull();
      expect(room.check(room.member(BOB, "join"))).not.toBeNull();
      const afterTwo = room.event("m.room.member", ALICE, { membership: "join" }, { stateKey: ALICE, pdu: { prev_events: [room.create.event_id, "$other"] } });
      expect(room.check(afterTwo)).not.toBeNull();
    });

    it("rejects a join on behalf of another user", () => {
      const room = standardRoom(version, { joinRule: "public" });
      expect(room.check(room.member(BOB, "join", ALICE))).toMatch(/on behalf/);
    });

    it("rejects a join by a banned user", () => {
      const room = standardRoom(version, { joinRule: "public" });
      room.send(room.member(BOB, "ban", ALICE));
      expect(room.check(room.member(BOB, "join"))).toMatch(/banned/);
    });

    it.each(["invite", "knock"])("allows a join under join rule %s only when invited or joined", (joinRule) => {
      const room = standardRoom(version, { joinRule });
      expect(room.check(room.member(BOB, "join"))).toMatch(/not invited/);
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "join"))).toBeNull();
      expect(room.check(room.member(ALICE, "join"))).toBeNull();
    });

    it.each(["restricted", "knock_restricted"])("allows a join under join rule %s when invited or joined", (joinRule) => {
      const room = standardRoom(version, { joinRule });
      expect(room.check(room.member(BOB, "join"))).toMatch(/join_authorised_via_users_server/);
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "join"))).toBeNull();
    });

    it.each(["restricted", "knock_restricted"])(
      "allows a join under join rule %s authorised by a joined user who can invite",
      (joinRule) => {
        const room = standardRoom(version, { joinRule });
        const authorised = room.member(BOB, "join", BOB, { join_authorised_via_users_server: ALICE });
        authorised.pdu.signatures["a.example"] = { "ed25519:fake": "fakesignature" };
        expect(room.check(authorised)).toBeNull();
      },
    );

    it("rejects a restricted join authorised by a user who is not joined", () => {
      const room = standardRoom(version, { joinRule: "restricted" });
      const authorised = room.member(BOB, "join", BOB, { join_authorised_via_users_server: DAVE });
      authorised.pdu.signatures["a.example"] = { "ed25519:fake": "fakesignature" };
      expect(room.check(authorised)).toMatch(/not joined/);
    });

    it("rejects a restricted join authorised by a user below the invite level", () => {
      const users = version === "12" ? {} : { [ALICE]: 100 };
      const room = standardRoom(version, { joinRule: "restricted", powerLevels: { users, invite: 50 } });
      room.join(DAVE);
      const authorised = room.member(BOB, "join", BOB, { join_authorised_via_users_server: DAVE });
      authorised.pdu.signatures["a.example"] = { "ed25519:fake": "fakesignature" };
      expect(room.check(authorised)).toMatch(/cannot invite/);
    });

    it("rejects a join with join_authorised_via_users_server not signed by that user's server", () => {
      const room = standardRoom(version, { joinRule: "restricted" });
      const unsigned = room.member(BOB, "join", BOB, { join_authorised_via_users_server: ALICE });
      expect(room.check(unsigned)).toMatch(/not signed by a\.example/);
      const notAUser = room.member(BOB, "join", BOB, { join_authorised_via_users_server: "alice" });
      expect(room.check(notAUser)).toMatch(/not a user id/);
    });

    it("allows a join to a public room", () => {
      const room = standardRoom(version, { joinRule: "public" });
      expect(room.check(room.member(BOB, "join"))).toBeNull();
    });

    it("rejects a join under any other join rule", () => {
      const room = standardRoom(version, { joinRule: "private" });
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "join"))).toMatch(/does not allow joining/);
    });

    it("treats a room without m.room.join_rules as invite-only", () => {
      const room = new TestRoom(version);
      room.send(room.member(ALICE, "join"));
      expect(room.check(room.member(BOB, "join"))).toMatch(/not invited/);
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "join"))).toBeNull();
    });
  });

  describe("invite", () => {
    it("rejects third-party invites as unsupported", () => {
      const room = standardRoom(version);
      const invite = room.member(BOB, "invite", ALICE, { third_party_invite: { signed: { mxid: BOB, token: "abc" } } });
      expect(room.check(invite)).toMatch(/third-party invites .* not supported/);
    });

    it("rejects an invite by a sender who is not joined", () => {
      const room = standardRoom(version);
      expect(room.check(room.member(CAROL, "invite", BOB))).toMatch(/sender is not joined/);
    });

    it("rejects an invite of a user who is joined or banned", () => {
      const room = standardRoom(version);
      room.join(BOB);
      expect(room.check(room.member(BOB, "invite", ALICE))).toMatch(/already joined/);
      room.send(room.member(CAROL, "ban", ALICE));
      expect(room.check(room.member(CAROL, "invite", ALICE))).toMatch(/banned/);
    });

    it("allows an invite only from a sender at or above the invite level", () => {
      const users = version === "12" ? { [BOB]: 10 } : { [ALICE]: 100, [BOB]: 10 };
      const room = standardRoom(version, { powerLevels: { users, invite: 10 } });
      room.join(BOB);
      room.join(DAVE);
      expect(room.check(room.member(CAROL, "invite", BOB))).toBeNull();
      expect(room.check(room.member(CAROL, "invite", DAVE))).toMatch(/invite level/);
    });
  });

  describe("leave", () => {
    it("allows leaving only when invited, joined or knocking", () => {
      const room = standardRoom(version, { joinRule: "knock" });
      expect(room.check(room.member(BOB, "leave"))).toMatch(/cannot leave/);
      room.send(room.member(BOB, "knock"));
      expect(room.check(room.member(BOB, "leave"))).toBeNull();
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "leave"))).toBeNull();
      room.send(room.member(BOB, "join"));
      expect(room.check(room.member(BOB, "leave"))).toBeNull();
      room.send(room.member(BOB, "ban", ALICE));
      expect(room.check(room.member(BOB, "leave"))).toMatch(/cannot leave/);
    });

    it("rejects a kick by a sender who is not joined", () => {
      const room = standardRoom(version);
      room.join(BOB);
      expect(room.check(room.member(BOB, "leave", CAROL))).toMatch(/sender is not joined/);
    });

    it("rejects an unban by a sender below the ban level", () => {
      const users = version === "12" ? { [DAVE]: 60 } : { [ALICE]: 100, [DAVE]: 60 };
      const room = standardRoom(version, { powerLevels: { users, kick: 50, ban: 70 } });
      room.join(DAVE);
      room.send(room.member(BOB, "ban", ALICE));
      expect(room.check(room.member(BOB, "leave", DAVE))).toMatch(/ban level/);
      expect(room.check(room.member(BOB, "leave", ALICE))).toBeNull();
    });

    it("allows a kick only at or above the kick level and of a user below the sender", () => {
      const users = version === "12" ? { [DAVE]: 50, [CAROL]: 50 } : { [ALICE]: 100, [DAVE]: 50, [CAROL]: 50 };
      const room = standardRoom(version, { powerLevels: { users, kick: 50 } });
      room.join(BOB);
      room.join(CAROL);
      room.join(DAVE);
      expect(room.check(room.member(BOB, "leave", DAVE))).toBeNull();
      expect(room.check(room.member(CAROL, "leave", DAVE))).toMatch(/not below/);
      expect(room.check(room.member(DAVE, "leave", BOB))).toMatch(/kick level/);
    });
  });

  describe("ban", () => {
    it("rejects a ban by a sender who is not joined", () => {
      const room = standardRoom(version);
      expect(room.check(room.member(BOB, "ban", CAROL))).toMatch(/sender is not joined/);
    });

    it("allows a ban only at or above the ban level and of a user below the sender", () => {
      const users = version === "12" ? { [DAVE]: 50, [CAROL]: 50 } : { [ALICE]: 100, [DAVE]: 50, [CAROL]: 50 };
      const room = standardRoom(version, { powerLevels: { users, ban: 50 } });
      room.join(BOB);
      room.join(CAROL);
      room.join(DAVE);
      expect(room.check(room.member(BOB, "ban", DAVE))).toBeNull();
      expect(room.check(room.member(CAROL, "ban", DAVE))).toMatch(/not below/);
      expect(room.check(room.member(DAVE, "ban", BOB))).toMatch(/ban level/);
      expect(room.check(room.member("@stranger:c.example", "ban", DAVE))).toBeNull();
    });
  });

  describe("knock", () => {
    it.each(["knock", "knock_restricted"])("allows a knock under join rule %s", (joinRule) => {
      const room = standardRoom(version, { joinRule });
      expect(room.check(room.member(BOB, "knock"))).toBeNull();
    });

    it.each(["public", "invite", "restricted"])("rejects a knock under join rule %s", (joinRule) => {
      const room = standardRoom(version, { joinRule });
      expect(room.check(room.member(BOB, "knock"))).toMatch(/does not allow knocking/);
    });

    it("rejects a knock on behalf of another user", () => {
      const room = standardRoom(version, { joinRule: "knock" });
      expect(room.check(room.member(BOB, "knock", CAROL))).toMatch(/on behalf/);
    });

    it("rejects a knock by a user who is banned, invited or joined", () => {
      const room = standardRoom(version, { joinRule: "knock" });
      room.send(room.member(BOB, "invite", ALICE));
      expect(room.check(room.member(BOB, "knock"))).toMatch(/'invite'/);
      room.send(room.member(BOB, "join"));
      expect(room.check(room.member(BOB, "knock"))).toMatch(/'join'/);
      room.send(room.member(BOB, "ban", ALICE));
      expect(room.check(room.member(BOB, "knock"))).toMatch(/'ban'/);
      room.send(room.member(CAROL, "knock"));
      expect(room.check(room.member(CAROL, "knock"))).toBeNull();
    });
  });
});

describe("the creator's first join", () => {
  it("takes the creator from content.creator in version 10 and from the create sender in version 11", () => {
    const v10 = new TestRoom("10", makeCreate("10", { room_version: "10", creator: DAVE }));
    expect(v10.check(v10.member(DAVE, "join"))).toBeNull();
    expect(v10.check(v10.member(ALICE, "join"))).not.toBeNull();

    const v11 = new TestRoom("11", makeCreate("11", { room_version: "11", creator: DAVE }));
    expect(v11.check(v11.member(ALICE, "join"))).toBeNull();
    expect(v11.check(v11.member(DAVE, "join"))).not.toBeNull();
  });

  it("admits only the create sender, not additional creators, as first joiner in version 12", () => {
    const room = new TestRoom("12", makeCreate("12", { room_version: "12", additional_creators: [BOB] }));
    expect(room.check(room.member(BOB, "join"))).not.toBeNull();
    expect(room.check(room.member(ALICE, "join"))).toBeNull();
  });
});

describe("room creators in version 12", () => {
  it("lets a creator kick or ban anyone, and no one kick or ban a creator", () => {
    const create = makeCreate("12", { room_version: "12", additional_creators: [BOB] });
    const room = standardRoom("12", { create, powerLevels: { users: { [DAVE]: 9_007_199_254_740_991 } } });
    room.join(BOB);
    room.join(DAVE);
    expect(room.check(room.member(DAVE, "ban", ALICE))).toBeNull();
    expect(room.check(room.member(ALICE, "leave", DAVE))).toMatch(/not below/);
    expect(room.check(room.member(BOB, "ban", ALICE))).toMatch(/not below/);
  });

  it("gives the version 11 creator no special standing once power levels demote them", () => {
    const room = standardRoom("11", { powerLevels: { users: { [ALICE]: 0, [DAVE]: 100 } } });
    room.join(DAVE);
    expect(room.check(room.member(ALICE, "leave", DAVE))).toBeNull();
  });
});
