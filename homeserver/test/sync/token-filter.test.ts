import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/http/errors";
import { parsePositionToken } from "../../src/services/pagination";
import { allowsRoom, allowsType } from "../../src/sync/filter";
import { parseSyncToken, syncToken } from "../../src/sync/token";

describe("sync tokens", () => {
  it("round-trip and are accepted by /messages as the same event position", () => {
    const token = syncToken({ events: 1234, shared: 56 });
    expect(token).toBe("s1234_56");
    expect(parseSyncToken(token)).toEqual({ events: 1234, shared: 56 });
    expect(parsePositionToken(token)).toBe(1234);
    expect(parsePositionToken("s77")).toBe(77);
  });

  it("refuse anything else as M_INVALID_PARAM", () => {
    for (const bad of ["", "s1", "s1_", "e1_2", "s-1_2", "s1_2_3", "s1234567890123456_0"]) {
      expect(() => parseSyncToken(bad)).toThrowError(MatrixError);
    }
  });
});

describe("sync filter helpers", () => {
  it("match types with trailing wildcards, not_types winning", () => {
    expect(allowsType(undefined, "m.typing")).toBe(true);
    expect(allowsType({ types: ["m.*"] }, "m.typing")).toBe(true);
    expect(allowsType({ types: ["m.receipt"] }, "m.typing")).toBe(false);
    expect(allowsType({ types: ["m.*"], not_types: ["m.typing"] }, "m.typing")).toBe(false);
  });

  it("apply room.rooms and room.not_rooms, not_rooms winning", () => {
    expect(allowsRoom({}, "!a:x")).toBe(true);
    expect(allowsRoom({ room: { rooms: ["!a:x"] } }, "!b:x")).toBe(false);
    expect(allowsRoom({ room: { rooms: ["!a:x"], not_rooms: ["!a:x"] } }, "!a:x")).toBe(false);
  });
});
