import { describe, expect, it } from "vitest";
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS, isSupportedRoomVersion, roomVersionsCapability } from "../../src/rooms/room-versions";

describe("room versions", () => {
  it("supports 10, 11 and 12 and nothing else", () => {
    for (const id of ["10", "11", "12"]) expect(isSupportedRoomVersion(id)).toBe(true);
    for (const id of ["1", "9", "13", "", "org.matrix.msc4291", "toString", "__proto__"]) expect(isSupportedRoomVersion(id)).toBe(false);
  });

  it("defaults to room version 12, as rooms/_index.md recommends", () => {
    expect(DEFAULT_ROOM_VERSION).toBe("12");
    expect(isSupportedRoomVersion(DEFAULT_ROOM_VERSION)).toBe(true);
  });

  it("files each version under its own id", () => {
    for (const [key, version] of Object.entries(ROOM_VERSIONS)) expect(version.id).toBe(key);
  });

  it("advertises every version as stable in m.room_versions", () => {
    expect(roomVersionsCapability()).toEqual({ default: "12", available: { "10": "stable", "11": "stable", "12": "stable" } });
  });

  it("hands out a fresh capability object each time", () => {
    const first = roomVersionsCapability();
    first.available["13"] = "unstable";
    expect(roomVersionsCapability().available).not.toHaveProperty("13");
  });
});
