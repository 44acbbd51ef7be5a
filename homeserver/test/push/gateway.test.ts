import { describe, expect, it } from "vitest";
import { type NotifiedEvent, notificationBody, tweaksOf } from "../../src/push/gateway";

const event: NotifiedEvent = {
  event_id: "$e",
  room_id: "!r:example.org",
  type: "m.room.message",
  sender: "@bob:example.org",
  content: { msgtype: "m.text", body: "hi" },
  sender_display_name: "Bob",
  room_name: "Lunch",
};
const device = { app_id: "org.example.app", pushkey: "key", pushkey_ts: 1_700_000_000_123, data: { url: "https://gw/_matrix/push/v1/notify", custom: 1 } };

describe("push gateway requests", () => {
  it("reads tweaks from actions, highlight with no value being true", () => {
    expect(tweaksOf(["notify", { set_tweak: "sound", value: "default" }, { set_tweak: "highlight" }])).toEqual({ sound: "default", highlight: true });
    expect(tweaksOf(["notify"])).toEqual({});
  });

  it("sends the event, counts and the device with its data minus url", () => {
    const body = notificationBody("@alice:example.org", event, device, ["notify", { set_tweak: "sound", value: "default" }], 3);
    expect(body).toEqual({
      notification: {
        event_id: "$e",
        room_id: "!r:example.org",
        type: "m.room.message",
        sender: "@bob:example.org",
        sender_display_name: "Bob",
        room_name: "Lunch",
        content: { msgtype: "m.text", body: "hi" },
        counts: { unread: 3 },
        prio: "high",
        devices: [{ app_id: "org.example.app", pushkey: "key", pushkey_ts: 1_700_000_000, data: { custom: 1 }, tweaks: { sound: "default" } }],
      },
    });
  });

  it("sends only ids and counts for event_id_only, at low priority without sound or highlight", () => {
    const body = notificationBody("@alice:example.org", event, { ...device, data: { url: "u", format: "event_id_only" } }, ["notify"], 1);
    expect(body).toEqual({
      notification: {
        event_id: "$e",
        room_id: "!r:example.org",
        counts: { unread: 1 },
        prio: "low",
        devices: [{ app_id: "org.example.app", pushkey: "key", pushkey_ts: 1_700_000_000, data: { format: "event_id_only" }, tweaks: {} }],
      },
    });
  });

  it("marks invites of the user as about them", () => {
    const invite = { ...event, type: "m.room.member", state_key: "@alice:example.org", content: { membership: "invite" } };
    expect(notificationBody("@alice:example.org", invite, device, ["notify"], 0)["notification"]).toMatchObject({ user_is_target: true });
    expect(notificationBody("@carol:example.org", invite, device, ["notify"], 0)["notification"]).not.toHaveProperty("user_is_target");
  });
});
