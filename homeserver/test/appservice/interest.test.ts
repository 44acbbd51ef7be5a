import { describe, expect, it } from "vitest";
import { interestedInEvent, interestedInRoom } from "../../src/appservice/interest";
import { compileRegistration } from "../../src/appservice/registration";
import type { RoomEvent } from "../../src/rooms/event-builder";
import type { Pdu } from "../../src/rooms/pdu";

const as = compileRegistration(
  {
    id: "discord",
    url: "http://127.0.0.1:1",
    as_token: "a",
    hs_token: "h",
    sender_localpart: "_discord_bot",
    namespaces: {
      users: [{ exclusive: true, regex: "@_discord_.*:hs" }],
      aliases: [{ exclusive: true, regex: "#_discord_.*:hs" }],
      rooms: [{ exclusive: false, regex: "!bridged.*:hs" }],
    },
  },
  "hs",
  "APPSERVICES[0]",
);

function ev(type: string, sender: string, content: Record<string, unknown>, stateKey?: string): RoomEvent {
  const pdu = { type, sender, content, room_id: "!r:hs", origin_server_ts: 0, depth: 1, prev_events: [], auth_events: [], hashes: { sha256: "" }, signatures: {} } as unknown as Pdu;
  if (stateKey !== undefined) pdu.state_key = stateKey;
  return { event_id: `$${Math.random()}`, pdu };
}

function room(roomId: string, events: RoomEvent[]) {
  return { roomId, state: new Map(events.map((e) => [`${e.pdu.type}\u0000${e.pdu.state_key}`, e])) };
}

describe("appservice interest", () => {
  const alice = ev("m.room.member", "@alice:hs", { membership: "join" }, "@alice:hs");

  it("is interested in rooms where one of its users is joined", () => {
    const ghost = ev("m.room.member", "@_discord_1:hs", { membership: "join" }, "@_discord_1:hs");
    expect(interestedInRoom(as, room("!r:hs", [alice, ghost]), [])).toBe(true);
    const left = ev("m.room.member", "@_discord_1:hs", { membership: "leave" }, "@_discord_1:hs");
    expect(interestedInRoom(as, room("!r:hs", [alice, left]), [])).toBe(false);
  });

  it("is interested in rooms by room id and by alias namespaces", () => {
    expect(interestedInRoom(as, room("!bridged1:hs", [alice]), [])).toBe(true);
    expect(interestedInRoom(as, room("!r:hs", [alice]), ["#_discord_x:hs"])).toBe(true);
    const canonical = ev("m.room.canonical_alias", "@alice:hs", { alias: "#other:hs", alt_aliases: ["#_discord_y:hs"] }, "");
    expect(interestedInRoom(as, room("!r:hs", [alice, canonical]), [])).toBe(true);
    expect(interestedInRoom(as, room("!r:hs", [alice]), ["#other:hs"])).toBe(false);
  });

  it("is interested in single events sent by or about its users", () => {
    expect(interestedInEvent(as, ev("m.room.message", "@_discord_2:hs", {}))).toBe(true);
    expect(interestedInEvent(as, ev("m.room.member", "@alice:hs", { membership: "invite" }, "@_discord_3:hs"))).toBe(true);
    expect(interestedInEvent(as, ev("m.room.message", "@alice:hs", {}))).toBe(false);
  });
});
