import { describe, expect, it } from "vitest";
import type { RemoteChange, RemoteEvent } from "../../core/network";
import { portalKey } from "../../core/ids";
import { EventCallback } from "../payloads";
import { type SlackDispatchContext, dispatch } from "../s2m/dispatcher";
import { ALICE, BOB, fileShare, memberJoined, memberLeft, messageChanged, messageDeleted, plainMessage, reactionAdded, tokensRevoked } from "./fixtures/events";

function recordingContext(echoes: string[] = []) {
  const sent: RemoteEvent[] = [];
  const changes: RemoteChange[] = [];
  const lookedUp: string[][] = [];
  const remembered: [string, string][] = [];
  const revoked: string[] = [];
  const chatsChanged: string[] = [];
  const ctx: SlackDispatchContext = {
    servesTeam: async (team) => team === "T0001",
    ghostUserId: (team, user) => `@_slack_${team.toLowerCase()}_${user.toLowerCase()}:example.org`,
    profiles: async (_team, ids) => {
      lookedUp.push(ids);
      return { [ALICE]: { name: "Alice Anders", avatarUrl: "https://avatars.slack-edge.com/alice.png" }, [BOB]: { name: "Bob" } };
    },
    customEmoji: async (_team, names): Promise<Record<string, string>> => (names.includes("partyparrot") ? { partyparrot: "mxc://example.org/parrot" } : {}),
    toPortal: async (event) => {
      sent.push(event);
      return { roomId: "!portal:example.org", eventId: "$e", duplicate: false };
    },
    toPortalChange: async (change) => void changes.push(change),
    chatChanged: async (key) => void chatsChanged.push(key),
    rememberPortal: async (roomId, key) => void remembered.push([roomId, key]),
    takeReactionEcho: async (channel, ts, name) => {
      const i = echoes.indexOf(`${channel}:${ts}:${name}`);
      if (i >= 0) echoes.splice(i, 1);
      return i >= 0;
    },
    tokensRevoked: async (team) => void revoked.push(team),
    isBridgeBot: async (team, user) => team === "T0001" && user === "U0BOT",
    // Alice was shown before under another name; Bob's profile is what was shown.
    profileChanged: async (team, user) => (user.id === ALICE ? [portalKey(`${team}:C0100`), portalKey(`${team}:C0200`)] : []),
  };
  return { ctx, sent, changes, lookedUp, remembered, revoked, chatsChanged };
}

describe("s2m dispatcher", () => {
  it("user_change: a ghost_profile change for each portal the bridge names, with the new name and avatar; none for an unchanged user", async () => {
    const { ctx, changes, sent } = recordingContext();
    const alice = { id: ALICE, name: "alice", profile: { display_name: "Alice A.", real_name: "Alice Anders", image_512: "https://avatars.slack-edge.com/alice-2.png" } };
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "user_change", user: alice, cache_ts: 1700000000, event_ts: "1700000000.000200" } }));
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "user_change", user: { id: BOB, name: "bob" }, event_ts: "1700000000.000300" } }));
    const sender = { id: "T0001:U0042", displayName: "Alice A.", avatarUrl: "https://avatars.slack-edge.com/alice-2.png" };
    expect(changes).toEqual([
      { kind: "ghost_profile", portalKey: "T0001:C0100", sender },
      { kind: "ghost_profile", portalKey: "T0001:C0200", sender },
    ]);
    expect(sent).toEqual([]);
  });

  it("a rename or a topic change refreshes the conversation's portal and bridges no message", async () => {
    const { ctx, sent, chatsChanged } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "channel_rename", channel: { id: "C0100", name: "renamed", created: 1700000000 } } }));
    const topic = { ...plainMessage.event, subtype: "channel_topic", topic: "new topic", text: "<@U0042> set the channel topic: new topic" };
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: topic }));
    expect(chatsChanged).toEqual(["T0001:C0100", "T0001:C0100"]);
    expect(sent).toEqual([]);
  });

  it("a message: profiles looked up (sender and mentions), converted, queued to its portal, portal remembered", async () => {
    const { ctx, sent, lookedUp, remembered } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { ...plainMessage.event, text: "ask <@U0099>" } }));
    expect(lookedUp).toEqual([[ALICE, "U0099"]]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      kind: "message",
      portalKey: "T0001:C0100",
      sender: { id: "T0001:U0042", displayName: "Alice Anders", avatarUrl: "https://avatars.slack-edge.com/alice.png" },
    });
    // An unknown name falls back to the id.
    expect(sent[0]!.content.body).toBe("ask U0099");
    expect(remembered).toEqual([["!portal:example.org", "T0001:C0100"]]);
  });

  it("a custom workspace emoji in a message is looked up and shown as its image; standard ones are not looked up", async () => {
    const { ctx, sent } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { ...plainMessage.event, text: "ship :partyparrot: :tada: :nosuch:" } }));
    expect(sent[0]!.content).toEqual({
      msgtype: "m.text",
      body: "ship :partyparrot: 🎉 :nosuch:",
      format: "org.matrix.custom.html",
      formatted_body: 'ship <img data-mx-emoticon src="mxc://example.org/parrot" alt=":partyparrot:" title=":partyparrot:" height="32"> 🎉 :nosuch:',
      "m.mentions": {},
    });
  });

  it("a shared file: its url_private as an attachment, with size, type and dimensions", async () => {
    const { ctx, sent } = recordingContext();
    await dispatch(ctx, EventCallback.parse(fileShare));
    expect(sent[0]!.attachments).toEqual([
      { url: "https://files.slack.com/files-pri/T0001-F0001/download/report.png", filename: "report.png", size: 12345, mimetype: "image/png", width: 640, height: 480 },
    ]);
    expect(sent[0]!.content.body).toBe("the report");
  });

  it("message_changed is an edit, message_deleted a deletion, reaction_added a reaction (Unicode, skin tone)", async () => {
    const { ctx, changes } = recordingContext();
    await dispatch(ctx, EventCallback.parse(messageChanged));
    await dispatch(ctx, EventCallback.parse(messageDeleted));
    await dispatch(ctx, EventCallback.parse(reactionAdded));
    expect(changes).toEqual([
      {
        kind: "edit",
        portalKey: "T0001:C0100",
        sender: { id: "T0001:U0042", displayName: "Alice Anders", avatarUrl: "https://avatars.slack-edge.com/alice.png" },
        messageId: "1700000000.123456",
        editId: "1700000200.000000",
        timestamp: 1700000200000,
        content: { msgtype: "m.text", body: "hello *there*", format: "org.matrix.custom.html", formatted_body: "hello <strong>there</strong>", "m.mentions": {} },
      },
      { kind: "delete", portalKey: "T0001:C0100", messageId: "1700000000.123456" },
      { kind: "reaction", portalKey: "T0001:C0100", sender: { id: "T0001:U0043", displayName: "Bob" }, messageId: "1700000000.123456", emoji: "👍🏼", timestamp: 1700000400000 },
    ]);
  });

  it("a custom workspace emoji reaction: its image (mxc) as the key, with its shortcode; an unknown one stays :name:", async () => {
    const { ctx, changes } = recordingContext();
    const custom = { ...reactionAdded, event: { ...reactionAdded.event, reaction: "partyparrot" } };
    const unknown = { ...reactionAdded, event: { ...reactionAdded.event, reaction: "nosuch" } };
    await dispatch(ctx, EventCallback.parse(custom));
    await dispatch(ctx, EventCallback.parse(unknown));
    expect(changes.map((c) => (c.kind === "reaction" ? { emoji: c.emoji, shortcode: c.shortcode } : c.kind))).toEqual([
      { emoji: "mxc://example.org/parrot", shortcode: ":partyparrot:" },
      { emoji: ":nosuch:", shortcode: undefined },
    ]);
  });

  it("the echo of a reaction the bridge added is dropped once; a message_changed without `edited` (an unfurl) is no edit", async () => {
    const { ctx, changes } = recordingContext(["C0100:1700000000.123456:thumbsup::skin-tone-3"]);
    await dispatch(ctx, EventCallback.parse(reactionAdded));
    const { edited: _edited, ...unfurled } = messageChanged.event.message;
    await dispatch(ctx, EventCallback.parse({ ...messageChanged, event: { ...messageChanged.event, message: unfurled } }));
    expect(changes).toEqual([]);
    await dispatch(ctx, EventCallback.parse(reactionAdded));
    expect(changes).toHaveLength(1);
  });

  it("member_joined_channel: the user's ghost joins with name and avatar; member_left_channel: it leaves", async () => {
    const { ctx, sent, changes, lookedUp } = recordingContext();
    await dispatch(ctx, EventCallback.parse(memberJoined));
    await dispatch(ctx, EventCallback.parse(memberLeft));
    await dispatch(ctx, EventCallback.parse({ ...memberJoined, event: { ...memberJoined.event, user: ALICE } }));
    expect(lookedUp).toEqual([[BOB], [BOB], [ALICE]]);
    expect(changes).toEqual([
      { kind: "membership", portalKey: "T0001:C0100", sender: { id: "T0001:U0043", displayName: "Bob" }, membership: "join", timestamp: 1700000500000 },
      { kind: "membership", portalKey: "T0001:C0100", sender: { id: "T0001:U0043", displayName: "Bob" }, membership: "leave", timestamp: 1700000600000 },
      {
        kind: "membership",
        portalKey: "T0001:C0100",
        sender: { id: "T0001:U0042", displayName: "Alice Anders", avatarUrl: "https://avatars.slack-edge.com/alice.png" },
        membership: "join",
        timestamp: 1700000500000,
      },
    ]);
    expect(sent).toEqual([]);
  });

  it("the bridge's own bot joining a channel makes no ghost", async () => {
    const { ctx, sent, changes, lookedUp } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...memberJoined, event: { ...memberJoined.event, user: "U0BOT" } }));
    expect([...lookedUp, ...sent, ...changes]).toEqual([]);
  });

  it("tokens_revoked is reported; bot messages without a user and other event types do nothing", async () => {
    const { ctx, sent, changes, revoked } = recordingContext();
    await dispatch(ctx, EventCallback.parse(tokensRevoked));
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "message", subtype: "bot_message", bot_id: "B1", text: "x", ts: "1.1", channel: "C1" } }));
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "app_mention", user: ALICE } }));
    expect(revoked).toEqual(["T0001"]);
    expect([...sent, ...changes]).toEqual([]);
  });

  it("events of another workspace than the bot token's are ignored", async () => {
    const { ctx, sent } = recordingContext();
    await dispatch(ctx, EventCallback.parse({ ...plainMessage, team_id: "T9999" }));
    expect(sent).toEqual([]);
  });

  it("a malformed message is rejected, never half-bridged", async () => {
    const { ctx, sent } = recordingContext();
    await expect(dispatch(ctx, EventCallback.parse({ ...plainMessage, event: { type: "message", user: ALICE, text: "x", ts: "not-a-ts", channel: "C1" } }))).rejects.toThrow();
    expect(sent).toEqual([]);
  });
});
