import { describe, expect, it } from "vitest";
import { CombinedState, compileRequiredState } from "../../src/sync/sliding/required-state";

const ME = "@me:example.org";
const combined = (...requests: Parameters<typeof compileRequiredState>[0][]) => new CombinedState(requests.map((r) => compileRequiredState(r, ME)));

describe("required_state (MSC4186)", () => {
  it("matches exact entries, per-type wildcards and everything", () => {
    const exact = combined([["m.room.name", ""]]);
    expect(exact.matches("m.room.name", "")).toBe(true);
    expect(exact.matches("m.room.name", "x")).toBe(false);
    expect(exact.matches("m.room.topic", "")).toBe(false);
    const perType = combined([["m.room.member", "*"]]);
    expect(perType.matches("m.room.member", "@a:b")).toBe(true);
    expect(perType.matches("m.room.name", "")).toBe(false);
    const all = combined([["*", "*"]]);
    expect(all.matches("m.anything", "key")).toBe(true);
    expect(all.lazy).toBe(false);
    expect(all.selector([])).toEqual({ all: true, members: null });
  });

  it("turns $ME into the user's ID and $LAZY into lazy members", () => {
    const state = combined([["m.room.member", "$LAZY"], ["m.room.member", "$ME"], ["m.room.create", ""]]);
    expect(state.lazy).toBe(true);
    expect(state.matches("m.room.member", ME)).toBe(true);
    expect(state.matches("m.room.member", "@other:b")).toBe(false);
    const selector = state.selector([{ type: "m.room.member", state_key: "@sender:b" }]);
    expect(selector).toEqual({ all: false, types: new Map([["m.room.member", new Set([ME, "@sender:b"])], ["m.room.create", new Set([""])]]) });
  });

  it("reads the MSC's current shape: include, exclude, lazy_members", () => {
    const state = combined({ include: [{}], exclude: [{ type: "m.room.create", state_key: "" }], lazy_members: true });
    expect(state.matches("m.room.create", "")).toBe(false);
    expect(state.matches("m.room.topic", "")).toBe(true);
    // Under lazy loading a wildcard does not pull in members.
    expect(state.matches("m.room.member", "@a:b")).toBe(false);
    expect(state.lazy).toBe(true);
    expect(state.selector([])).toEqual({ all: true, members: new Set() });
  });

  it("combines configs as a superset: a config asking for all members cancels lazy loading", () => {
    const lazyOnly = compileRequiredState([["m.room.member", "$LAZY"]], ME);
    const allMembers = compileRequiredState({ include: [{ type: "m.room.member" }] }, ME);
    expect(new CombinedState([lazyOnly]).lazy).toBe(true);
    const both = new CombinedState([lazyOnly, allMembers]);
    expect(both.lazy).toBe(false);
    expect(both.matches("m.room.member", "@a:b")).toBe(true);
    expect(both.digest()).not.toBe(new CombinedState([lazyOnly]).digest());
    expect(both.digest()).toBe(new CombinedState([lazyOnly, allMembers]).digest());
  });

  it("a state key without a type matches that key in every type", () => {
    const state = combined({ include: [{ state_key: "$ME" }] });
    expect(state.matches("m.room.member", ME)).toBe(true);
    expect(state.matches("m.custom", ME)).toBe(true);
    expect(state.matches("m.custom", "")).toBe(false);
  });
});
