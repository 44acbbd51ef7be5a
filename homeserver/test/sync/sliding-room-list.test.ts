import { describe, expect, it } from "vitest";
import type { ListRoomRow } from "../../src/storage/sliding-sync";
import { type ListInputs, cutList, orderRooms } from "../../src/sync/sliding/room-list";

const ME = "@me:example.org";
const row = (room_id: string, activity: number, extra: Partial<ListRoomRow> = {}): ListRoomRow => ({
  room_id,
  membership: "join",
  event_id: `$${room_id}`,
  member_ordering: 1,
  activity,
  member_sender: null,
  prev_membership: null,
  room_type: null,
  encrypted: null,
  ...extra,
});
const inputs = (extra: Partial<ListInputs> = {}): ListInputs => ({
  userId: ME,
  dmRooms: new Set(),
  ignored: new Set(),
  tags: new Map(),
  spaceChildren: new Map(),
  sentRooms: new Set(),
  ...extra,
});

describe("the sliding sync room list", () => {
  it("orders by latest activity and cuts inclusive ranges of the filtered list", () => {
    const rows = [row("!a", 5), row("!b", 9), row("!c", 7), row("!d", 1)];
    const ordered = orderRooms(rows, inputs());
    expect(ordered.map((r) => r.room_id)).toEqual(["!b", "!c", "!a", "!d"]);
    expect(cutList(ordered, { ranges: [[0, 1]] }, inputs())).toEqual({ count: 4, roomIds: ["!b", "!c"] });
    expect(cutList(ordered, { range: [2, 100] }, inputs())).toEqual({ count: 4, roomIds: ["!a", "!d"] });
    expect(cutList(ordered, { ranges: [[0, 0], [3, 3]] }, inputs())).toEqual({ count: 4, roomIds: ["!b", "!d"] });
    expect(cutList(ordered, {}, inputs()).roomIds).toHaveLength(4);
  });

  it("lists rooms left only when the connection sent them, kicks and bans after a join always, invites from ignored users never", () => {
    const rows = [
      row("!left", 1, { membership: "leave", member_sender: ME, prev_membership: "join" }),
      row("!kicked", 2, { membership: "leave", member_sender: "@admin:b", prev_membership: "join" }),
      row("!banned-never-joined", 3, { membership: "ban", member_sender: "@admin:b", prev_membership: null }),
      row("!ignored-invite", 4, { membership: "invite", member_sender: "@spam:b" }),
      row("!invite", 5, { membership: "invite", member_sender: "@friend:b" }),
    ];
    const listed = (extra: Partial<ListInputs>) => orderRooms(rows, inputs(extra)).map((r) => r.room_id);
    expect(listed({ ignored: new Set(["@spam:b"]) })).toEqual(["!invite", "!kicked"]);
    expect(listed({ ignored: new Set(["@spam:b"]), sentRooms: new Set(["!left"]) })).toEqual(["!invite", "!kicked", "!left"]);
  });

  it("filters on DMs, invites, room types, tags and spaces", () => {
    const rows = [
      row("!dm", 6),
      row("!space", 5, { room_type: "m.space" }),
      row("!invite", 4, { membership: "invite" }),
      row("!fav", 3),
      row("!child", 2),
    ];
    const ctx = inputs({ dmRooms: new Set(["!dm"]), tags: new Map([["!fav", ["m.favourite"]]]), spaceChildren: new Map([["!space", new Set(["!child"])]]) });
    const ordered = orderRooms(rows, ctx);
    const ids = (filters: Record<string, unknown>) => cutList(ordered, { filters }, ctx).roomIds;
    expect(ids({ is_dm: true })).toEqual(["!dm"]);
    expect(ids({ is_invite: true })).toEqual(["!invite"]);
    expect(ids({ is_invited: false, is_dm: false })).toEqual(["!space", "!fav", "!child"]);
    expect(ids({ not_room_types: ["m.space"] })).toEqual(["!dm", "!invite", "!fav", "!child"]);
    expect(ids({ room_types: [null] })).toEqual(["!dm", "!invite", "!fav", "!child"]);
    expect(ids({ tags: ["m.favourite"] })).toEqual(["!fav"]);
    expect(ids({ not_tags: ["m.favourite"], is_invite: false, is_dm: false, not_room_types: ["m.space"] })).toEqual(["!child"]);
    expect(ids({ spaces: ["!space"] })).toEqual(["!child"]);
  });
});
