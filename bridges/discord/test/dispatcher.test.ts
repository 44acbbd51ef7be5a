import { describe, expect, it } from "vitest";
import { type PortalKey, portalKey } from "../../core/ids";
import type { RemoteChange, RemoteEvent } from "../../core/network";
import { type DispatchContext, dispatch } from "../d2m/dispatcher";
import * as fixtures from "./fixtures/messages";

/** A dispatch context whose I/O is recorded, so the test checks what the actions were called with. */
function recordingContext() {
  const toPortal: RemoteEvent[] = [];
  const remembered: [string, PortalKey][] = [];
  const changes: RemoteChange[] = [];
  const learned: string[] = [];
  /** Custom emoji "uploaded" by ensureEmojis: the converter then shows them inline. */
  const emojis = new Map<string, string>();
  const ctx: DispatchContext = {
    convert: {
      ghostUserId: (id) => `@_discord_${id}:example.org`,
      cdnBaseUrl: "https://cdn.test",
      channelName: () => undefined,
      roleName: () => undefined,
      emojiMxc: (id) => emojis.get(id),
    },
    ensureEmojis: async (list) => {
      for (const e of list) emojis.set(e.id, `mxc://example.org/emoji-${e.id}${e.animated ? "-animated" : ""}`);
    },
    // Channel 3 is not bridged; thread 8 belongs to channel 1; every other channel is bridged.
    route: async (channelId) => (channelId === "3" ? null : channelId === "8" ? { portalKey: portalKey("1"), threadId: "8" } : { portalKey: portalKey(channelId) }),
    learnGuild: (guild) => void learned.push(`guild ${guild.id}: ${guild.channels.map((c) => c.id).join(",")}`),
    learnChannel: (channel) => void learned.push(`channel ${channel.id} in ${channel.parent_id ?? "-"}${channel.thread_metadata?.archived ? " (archived)" : ""}`),
    syncChat: async (key) => void learned.push(`sync ${key}`),
    toPortalChange: async (change) => void changes.push(change),
    botUserId: () => "900",
    // The bridge's webhook is 77.
    ownAuthors: async () => ({ botUserId: "900", webhookIds: ["77"] }),
    now: () => 1_700_000_000_000,
    toPortal: async (event) => {
      toPortal.push(event);
      return { roomId: "!portal:example.org", eventId: "$event", duplicate: false };
    },
    rememberPortal: (roomId, key) => void remembered.push([roomId, key]),
    // Guild 2 has bridged channels 1 and 4; no other guild has any.
    guildPortals: (guildId) => (guildId === "2" ? [portalKey("1"), portalKey("4")] : []),
    // Channel 1 has messages 5 then 6 pinned.
    pinnedMessageIds: async (channelId) => (channelId === "1" ? ["5", "6"] : []),
  };
  return { ctx, toPortal, remembered, changes, learned };
}

describe("d2m dispatcher", () => {
  it("CHANNEL_PINS_UPDATE: the bridged channel's pins (read again) go to its portal; a thread's or an unbridged channel's do not", async () => {
    const { ctx, changes } = recordingContext();
    await dispatch(ctx, "CHANNEL_PINS_UPDATE", { guild_id: "2", channel_id: "1", last_pin_timestamp: "2026-11-26T10:00:00.000000+00:00" });
    await dispatch(ctx, "CHANNEL_PINS_UPDATE", { channel_id: "3" });
    await dispatch(ctx, "CHANNEL_PINS_UPDATE", { guild_id: "2", channel_id: "8" });
    expect(changes).toEqual([{ kind: "pins", portalKey: "1", messageIds: ["5", "6"] }]);
  });

  it("MESSAGE_CREATE with custom emoji: their images are uploaded first, then shown inline", async () => {
    const { ctx, toPortal } = recordingContext();
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, content: "nice <a:party:1100>" });
    expect(toPortal[0]?.content).toEqual({
      msgtype: "m.text",
      body: "nice :party:",
      format: "org.matrix.custom.html",
      formatted_body: 'nice <img data-mx-emoticon src="mxc://example.org/emoji-1100-animated" alt=":party:" title=":party:" height="32">',
    });
  });

  it("MESSAGE_CREATE goes to its channel's portal, converted, and the room is remembered", async () => {
    const { ctx, toPortal, remembered } = recordingContext();
    await dispatch(ctx, "MESSAGE_CREATE", fixtures.bold);
    expect(toPortal).toHaveLength(1);
    expect(toPortal[0]).toMatchObject({ portalKey: "112760669178241024", messageId: "1126405859034419222", content: { formatted_body: expect.stringContaining("<strong>bold</strong>") } });
    expect(remembered).toEqual([["!portal:example.org", "112760669178241024"]]);
  });

  it("a reply names the message it answers; a forward does not", async () => {
    const { ctx, toPortal } = recordingContext();
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, message_reference: { message_id: "1126405859034419222", channel_id: "112760669178241024", type: 0 } });
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.bold, message_reference: { message_id: "1126405859034419221", channel_id: "112760669178241024", type: 1 } });
    expect(toPortal[0]).toMatchObject({ replyTo: "1126405859034419222" });
    expect(toPortal[1]).not.toHaveProperty("replyTo");
  });

  it("a message with only files is bridged, with each file's size, type and dimensions", async () => {
    const { ctx, toPortal } = recordingContext();
    const image = { id: "9", filename: "cat.png", content_type: "image/png", size: 1234, url: "https://cdn.discordapp.com/attachments/1/9/cat.png", proxy_url: "https://media.discordapp.net/x", width: 640, height: 480 };
    const file = { id: "10", filename: "notes.txt", size: 5, url: "https://cdn.discordapp.com/attachments/1/10/notes.txt", proxy_url: "https://media.discordapp.net/y", width: null, height: null };
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, content: "", attachments: [image, file] });
    expect(toPortal[0]?.attachments).toEqual([
      { url: image.url, filename: "cat.png", mimetype: "image/png", size: 1234, width: 640, height: 480 },
      { url: file.url, filename: "notes.txt", size: 5 },
    ]);
    expect(toPortal[0]?.content.body).toBe("");
  });

  it("MESSAGE_UPDATE with new text is an edit; an embed-only update is nothing", async () => {
    const { ctx, changes } = recordingContext();
    const edited = "2023-07-06T06:00:00.000000+00:00";
    await dispatch(ctx, "MESSAGE_UPDATE", { ...fixtures.plain, content: "now **bold**", edited_timestamp: edited });
    await dispatch(ctx, "MESSAGE_UPDATE", { id: fixtures.plain.id, channel_id: fixtures.plain.channel_id, embeds: [] });
    expect(changes).toEqual([
      {
        kind: "edit",
        portalKey: "112760669178241024",
        sender: { id: fixtures.cadence.id, displayName: "Cadence", avatarUrl: `https://cdn.test/avatars/${fixtures.cadence.id}/${fixtures.cadence.avatar}.png` },
        messageId: fixtures.plain.id,
        editId: edited,
        timestamp: Date.parse(edited),
        content: { msgtype: "m.text", body: "now **bold**", format: "org.matrix.custom.html", formatted_body: "now <strong>bold</strong>" },
      },
    ]);
  });

  it("MESSAGE_DELETE, reactions and typing go to the portal; the bot's own reactions and typing do not", async () => {
    const { ctx, changes } = recordingContext();
    await dispatch(ctx, "MESSAGE_DELETE", { id: "5", channel_id: "1", guild_id: "2" });
    const reaction = { user_id: "42", channel_id: "1", message_id: "5", emoji: { id: null, name: "👍" }, member: { user: { id: "42", username: "bob" }, nick: "Bobby" } };
    await dispatch(ctx, "MESSAGE_REACTION_ADD", reaction);
    await dispatch(ctx, "MESSAGE_REACTION_ADD", { ...reaction, user_id: "900" });
    await dispatch(ctx, "MESSAGE_REACTION_REMOVE", { user_id: "42", channel_id: "1", message_id: "5", emoji: { id: "77", name: "party" } });
    await dispatch(ctx, "TYPING_START", { channel_id: "1", user_id: "42", timestamp: 1 });
    await dispatch(ctx, "TYPING_START", { channel_id: "1", user_id: "900", timestamp: 1 });
    expect(changes).toEqual([
      { kind: "delete", portalKey: "1", messageId: "5" },
      { kind: "reaction", portalKey: "1", sender: { id: "42", displayName: "Bobby" }, messageId: "5", emoji: "👍", timestamp: 1_700_000_000_000 },
      { kind: "reaction_remove", portalKey: "1", sender: { id: "42" }, messageId: "5", emoji: ":party:", timestamp: 1_700_000_000_000 },
      { kind: "typing", portalKey: "1", sender: { id: "42" }, timeoutMs: 10_000 },
    ]);
  });

  it("ignores events it has no handler for, messages without content, and channels that are not bridged", async () => {
    const { ctx, toPortal, changes } = recordingContext();
    await dispatch(ctx, "PRESENCE_UPDATE", { user: { id: "1" } });
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, content: "" });
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, channel_id: "3" });
    await dispatch(ctx, "MESSAGE_DELETE", { id: "5", channel_id: "3" });
    expect(toPortal).toEqual([]);
    expect(changes).toEqual([]);
  });

  it("a thread's messages, edits and deletions go to the parent's portal; the thread's id is the Matrix thread root", async () => {
    const { ctx, toPortal, changes } = recordingContext();
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, channel_id: "8", id: "81" });
    await dispatch(ctx, "MESSAGE_UPDATE", { ...fixtures.plain, channel_id: "8", id: "81", content: "edited", edited_timestamp: "2023-07-06T06:00:00.000000+00:00" });
    await dispatch(ctx, "MESSAGE_DELETE", { id: "81", channel_id: "8" });
    expect(toPortal[0]).toMatchObject({ portalKey: "1", messageId: "8/81", threadRoot: "8" });
    expect(changes.map((c) => [c.kind, c.portalKey, "messageId" in c ? c.messageId : ""])).toEqual([
      ["edit", "1", "8/81"],
      ["delete", "1", "8/81"],
    ]);
  });

  it("GUILD_CREATE, THREAD_CREATE and CHANNEL_UPDATE teach the bridge channels (names, threads' parents)", async () => {
    const { ctx, learned } = recordingContext();
    await dispatch(ctx, "GUILD_CREATE", { id: "2", name: "G", channels: [{ id: "1", type: 0, name: "general" }], roles: [{ id: "5", name: "mods" }] });
    await dispatch(ctx, "THREAD_CREATE", { id: "8", type: 11, parent_id: "1", name: "a thread" });
    await dispatch(ctx, "THREAD_UPDATE", { id: "9", type: 11, parent_id: "1", name: "archived", thread_metadata: { archived: true } });
    await dispatch(ctx, "CHANNEL_UPDATE", { id: "1", type: 0, name: "renamed" });
    await dispatch(ctx, "CHANNEL_UPDATE", { id: "3", type: 0, name: "not bridged" });
    // A bridged channel's room is resynced; a channel that is not bridged is only learnt.
    expect(learned).toEqual(["guild 2: 1", "channel 8 in 1", "channel 9 in 1 (archived)", "channel 1 in -", "sync 1", "channel 3 in -"]);
  });

  it("GUILD_MEMBER_UPDATE renames the ghost in each bridged channel of the guild; other guilds and USER_UPDATE do nothing", async () => {
    const { ctx, changes } = recordingContext();
    const user = { id: "42", username: "bob", global_name: "Bob B", avatar: "hash42" };
    await dispatch(ctx, "GUILD_MEMBER_UPDATE", { guild_id: "2", user, nick: "Bobby", roles: [], joined_at: null });
    await dispatch(ctx, "GUILD_MEMBER_UPDATE", { guild_id: "9", user, nick: "Elsewhere", roles: [], joined_at: null });
    await dispatch(ctx, "USER_UPDATE", { id: "900", username: "the-bot" });
    const sender = { id: "42", displayName: "Bobby", avatarUrl: "https://cdn.test/avatars/42/hash42.png" };
    expect(changes).toEqual([
      { kind: "ghost_profile", portalKey: "1", sender },
      { kind: "ghost_profile", portalKey: "4", sender },
    ]);
    await expect(dispatch(ctx, "GUILD_MEMBER_UPDATE", { guild_id: "2", nick: "no user" })).rejects.toThrow();
  });

  it("a custom emoji reaction: its image uploaded first, the key its mxc URI; a removal finds the same key; a deleted emoji without an image is nothing", async () => {
    const { ctx, changes } = recordingContext();
    const custom = { user_id: "42", channel_id: "1", message_id: "5", emoji: { id: "1100", name: "party", animated: true } };
    await dispatch(ctx, "MESSAGE_REACTION_ADD", custom);
    await dispatch(ctx, "MESSAGE_REACTION_REMOVE", custom);
    await dispatch(ctx, "MESSAGE_REACTION_ADD", { ...custom, emoji: { id: "1200", name: null } });
    expect(changes).toEqual([
      { kind: "reaction", portalKey: "1", sender: { id: "42" }, messageId: "5", emoji: "mxc://example.org/emoji-1100-animated", shortcode: ":party:", timestamp: 1_700_000_000_000 },
      { kind: "reaction_remove", portalKey: "1", sender: { id: "42" }, messageId: "5", emoji: "mxc://example.org/emoji-1100-animated", shortcode: ":party:", timestamp: 1_700_000_000_000 },
    ]);
  });

  it("the bridge's own posts (through its webhook, or by its bot) are echoes, even when not in the message map: dropped", async () => {
    const { ctx, toPortal, changes } = recordingContext();
    const hook = { id: "77", username: "Person Example", avatar: null, bot: true };
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, id: "61", author: hook, webhook_id: "77" });
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, id: "62", author: { id: "900", username: "bridge", bot: true } });
    await dispatch(ctx, "MESSAGE_UPDATE", { ...fixtures.plain, id: "61", author: hook, webhook_id: "77", content: "edited", edited_timestamp: "2023-07-06T06:00:00.000000+00:00" });
    await dispatch(ctx, "MESSAGE_UPDATE", { ...fixtures.plain, id: "62", author: { id: "900", username: "bridge" }, content: "edited", edited_timestamp: "2023-07-06T06:00:00.000000+00:00" });
    expect([toPortal, changes]).toEqual([[], []]);
    // Another app's webhook is not ours: bridged.
    await dispatch(ctx, "MESSAGE_CREATE", { ...fixtures.plain, id: "63", author: { id: "55", username: "CI", bot: true }, webhook_id: "55" });
    expect(toPortal.map((e) => [e.messageId, e.sender.displayName])).toEqual([["63", "CI"]]);
  });

  it("rejects a malformed MESSAGE_CREATE instead of bridging garbage", async () => {
    const { ctx, toPortal } = recordingContext();
    await expect(dispatch(ctx, "MESSAGE_CREATE", { id: "1" })).rejects.toThrow();
    expect(toPortal).toEqual([]);
  });
});
