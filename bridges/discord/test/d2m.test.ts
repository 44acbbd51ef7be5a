import { describe, expect, it } from "vitest";
import { portalKey } from "../../core/ids";
import { type D2mContext, channelRoute, customEmojis, ghostProfileChanges, messageContent, remoteMessage, splitMessageId } from "../d2m/convert-message";
import { GuildMemberUpdate, MessageCreate } from "../gateway/payloads";
import * as members from "./fixtures/members";
import * as fixtures from "./fixtures/messages";

const ctx: D2mContext = {
  ghostUserId: (id) => `@_discord_${id}:example.org`,
  cdnBaseUrl: "https://cdn.test",
  channelName: (id) => (id === "222" ? "general" : undefined),
  roleName: (id) => (id === "333" ? "moderators" : undefined),
  emojiMxc: (id) => (id === "1099" ? "mxc://example.org/blobcat" : undefined),
};
const convert = (fixture: unknown) => messageContent(MessageCreate.parse(fixture), ctx);

describe("d2m: Discord message to Matrix content", () => {
  it("leaves plain text plain (no formatted_body)", () => {
    expect(convert(fixtures.plain)).toEqual({ msgtype: "m.text", body: "hello, how are you?" });
  });

  it("bold and italics", () => {
    expect(convert(fixtures.bold)).toEqual({
      msgtype: "m.text",
      body: "this is **bold** and *italic* and _also italic_",
      format: "org.matrix.custom.html",
      formatted_body: "this is <strong>bold</strong> and <em>italic</em> and <em>also italic</em>",
    });
  });

  it("strike, underline, nested emphasis, inline code (escaped), intraword underscores", () => {
    expect(convert(fixtures.mixed).formatted_body).toBe(
      "<del>gone</del> <u>under</u> <strong><em>both</em></strong> <code>a &lt; b</code> snake_case_name",
    );
  });

  it("code blocks with a language", () => {
    expect(convert(fixtures.codeBlock)).toEqual({
      msgtype: "m.text",
      body: "look:\n```js\nconst x = 1 < 2;\n```\nnice",
      format: "org.matrix.custom.html",
      formatted_body: 'look:<br><pre><code class="language-js">const x = 1 &lt; 2;\n</code></pre>nice',
    });
  });

  it("bare links, masked links and embed-suppressed links", () => {
    expect(convert(fixtures.links).formatted_body).toBe(
      'see <a href="https://example.org/a?b=c">https://example.org/a?b=c</a>, <a href="https://example.org/docs">the docs</a> and <a href="https://example.org/quiet">https://example.org/quiet</a>',
    );
  });

  it("user mentions become pills to the ghost, named as Discord sent them, and m.mentions names the ghosts", () => {
    expect(convert(fixtures.mention)).toEqual({
      msgtype: "m.text",
      body: "hey kumaccino and 999",
      format: "org.matrix.custom.html",
      formatted_body:
        'hey <a href="https://matrix.to/#/@_discord_320067006521147393:example.org">kumaccino</a> and <a href="https://matrix.to/#/@_discord_999:example.org">999</a>',
      "m.mentions": { user_ids: ["@_discord_320067006521147393:example.org"] },
    });
  });

  it("channel and role mentions as text, an uploaded custom emoji as an inline image (else text); @everyone pings the room", () => {
    expect(convert(fixtures.everyone)).toEqual({
      msgtype: "m.text",
      body: "@everyone see #general and #444, ask @moderators :blobcat: :party:",
      format: "org.matrix.custom.html",
      formatted_body: '@everyone see #general and #444, ask @moderators <img data-mx-emoticon src="mxc://example.org/blobcat" alt=":blobcat:" title=":blobcat:" height="32"> :party:',
      "m.mentions": { room: true },
    });
    expect(customEmojis(fixtures.everyone.content + " <:blobcat:1099>")).toEqual([
      { id: "1099", name: "blobcat", animated: false },
      { id: "1100", name: "party", animated: true },
    ]);
  });

  it("a bot's rich embed as readable text (title linked, description, fields, footer); link previews are left out", () => {
    expect(convert(fixtures.embed)).toEqual({
      msgtype: "m.text",
      body: "build finished\n**[Build #12](https://ci.example/12)**\nAll *green*\n**Duration**: 3 min\nCI bot",
      format: "org.matrix.custom.html",
      formatted_body:
        'build finished<br><strong><a href="https://ci.example/12">Build #12</a></strong><br>All <em>green</em><br><strong>Duration</strong>: 3 min<br>CI bot',
    });
  });

  it("block quotes, headings, lists and spoilers", () => {
    expect(convert(fixtures.blocks)).toEqual({
      msgtype: "m.text",
      body: "# Plan\n> quoted **bold**\n> second\n- one\n- ||two||\n1. first\n2. second\nafter\n>>> all\nthe rest",
      format: "org.matrix.custom.html",
      formatted_body:
        '<h1>Plan</h1><blockquote>quoted <strong>bold</strong><br>second</blockquote><ul><li>one</li><li><span data-mx-spoiler>two</span></li></ul><ol><li>first</li><li>second</li></ol>after<br><blockquote>all<br>the rest</blockquote>',
    });
  });

  it("stickers as text", () => {
    expect(convert(fixtures.sticker)).toEqual({ msgtype: "m.text", body: "sticker: Wave" });
  });

  it("backslash escapes, HTML-looking text and newlines", () => {
    expect(convert(fixtures.escapes).formatted_body).toBe("not *bold* &lt;b&gt;html&lt;/b&gt; &amp; more<br>second line");
  });

  it("wraps the message for its portal: channel, author ghost, id and timestamp", () => {
    const event = remoteMessage(MessageCreate.parse(fixtures.bold), channelRoute("112760669178241024"), ctx);
    expect(event).toEqual({
      kind: "message",
      portalKey: "112760669178241024",
      sender: { id: "113340068197859328", displayName: "Cadence", avatarUrl: "https://cdn.test/avatars/113340068197859328/d3e1c3a8a6a2f7a3cc5ef6d0cd2a8b71.png" },
      messageId: "1126405859034419222",
      timestamp: Date.parse("2023-07-06T05:56:33.118Z"),
      content: convert(fixtures.bold),
    });
  });

  it("the guild nickname names the ghost; no avatar hash, no avatar", () => {
    const event = remoteMessage(MessageCreate.parse({ ...fixtures.plain, author: fixtures.kumaccino, member: { nick: "Kuma" } }), channelRoute("1"), ctx);
    expect(event.sender).toEqual({ id: "320067006521147393", displayName: "Kuma" });
  });

  it("in a thread: the parent's portal, the thread (its starter message) as root, ids carrying the thread", () => {
    const route = { portalKey: portalKey("112760669178241024"), threadId: "500" };
    const reply = { ...fixtures.plain, channel_id: "500", message_reference: { message_id: "501", channel_id: "500", type: 0 } };
    expect(remoteMessage(MessageCreate.parse(reply), route, ctx)).toMatchObject({ portalKey: "112760669178241024", messageId: "500/1126405859034419221", threadRoot: "500", replyTo: "500/501" });
    // A forum post's first message has the thread's id: it is the root itself.
    const starter = remoteMessage(MessageCreate.parse({ ...fixtures.plain, id: "500", channel_id: "500" }), route, ctx);
    expect(starter.messageId).toBe("500");
    expect(starter).not.toHaveProperty("threadRoot");
    expect(splitMessageId("112760669178241024", "500/501")).toEqual({ channelId: "500", messageId: "501" });
    expect(splitMessageId("112760669178241024", "501")).toEqual({ channelId: "112760669178241024", messageId: "501" });
  });

  it("rejects a payload without an author (zod at the gateway boundary)", () => {
    expect(() => MessageCreate.parse({ ...fixtures.plain, author: undefined })).toThrow();
  });
});

describe("d2m: GUILD_MEMBER_UPDATE to ghost profile changes", () => {
  it("one change per bridged channel of the guild, named and pictured as the member's messages show them", () => {
    const portals = [portalKey("1"), portalKey("2")];
    const sender = { id: fixtures.cadence.id, displayName: "Cady", avatarUrl: `https://cdn.test/avatars/${fixtures.cadence.id}/${fixtures.cadence.avatar}.png` };
    expect(ghostProfileChanges(GuildMemberUpdate.parse(members.nicknamed), portals, "https://cdn.test")).toEqual([
      { kind: "ghost_profile", portalKey: "1", sender },
      { kind: "ghost_profile", portalKey: "2", sender },
    ]);
    // The same sender a message of theirs would carry.
    expect(remoteMessage(MessageCreate.parse({ ...fixtures.plain, member: { nick: "Cady" } }), channelRoute("1"), ctx).sender).toEqual(sender);
  });

  it("a cleared nickname falls back to the global name, then the username; no avatar hash, no avatar", () => {
    expect(ghostProfileChanges(GuildMemberUpdate.parse(members.nickCleared), [portalKey("1")], "https://cdn.test")).toEqual([
      { kind: "ghost_profile", portalKey: "1", sender: { id: fixtures.kumaccino.id, displayName: "kumaccino" } },
    ]);
    expect(ghostProfileChanges(GuildMemberUpdate.parse({ ...members.nicknamed, nick: null }), [portalKey("1")], "https://cdn.test")[0]?.sender.displayName).toBe("Cadence");
    expect(ghostProfileChanges(GuildMemberUpdate.parse(members.nicknamed), [], "https://cdn.test")).toEqual([]);
  });
});
