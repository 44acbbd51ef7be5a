import { describe, expect, it } from "vitest";
import { MessageEvent } from "../payloads";
import { shortcodeToUnicode, unicodeToShortcode } from "../emoji";
import { compareTs, customEmojiNames, mentionedUsers, messageContent, remoteMessage, tsToMillis } from "../s2m/convert-message";
import { renderMrkdwn } from "../s2m/mrkdwn";
import { richTextContent } from "../s2m/rich-text";
import { ALICE, BOB, TEAM, plainMessage, richTextMessage, threadReply } from "./fixtures/events";

const names: Record<string, string> = { [ALICE]: "Alice Anders", [BOB]: "Bob <B>" };
const mentions = { userId: (id: string) => `@_slack_t0001_${id.toLowerCase()}:example.org`, displayName: (id: string) => names[id] ?? id };
const render = (text: string) => renderMrkdwn(text, mentions);

describe("s2m: Slack mrkdwn to Matrix body + HTML", () => {
  it("plain text has no HTML, and Slack's escapes are undone", () => {
    expect(render("a &lt;b&gt; &amp; c")).toEqual({ body: "a <b> & c", html: undefined });
  });

  it("bold, italic, strike, nested, and markers inside words left alone", () => {
    expect(render("*b* _i_ ~s~ *bold _and italic_*")).toEqual({
      body: "*b* _i_ ~s~ *bold _and italic_*",
      html: "<strong>b</strong> <em>i</em> <del>s</del> <strong>bold <em>and italic</em></strong>",
    });
    expect(render("snake_case_name and 2*3*4")).toEqual({ body: "snake_case_name and 2*3*4", html: undefined });
    expect(render("* not bold *").html).toBeUndefined();
  });

  it("inline code and code blocks are literal: no styles, escapes undone once, HTML escaped", () => {
    expect(render("run `a*b*c` now")).toEqual({ body: "run `a*b*c` now", html: "run <code>a*b*c</code> now" });
    expect(render("```\nif (a &lt; b) { *x* }\n```")).toEqual({
      body: "```\nif (a < b) { *x* }\n```",
      html: "<pre><code>if (a &lt; b) { *x* }</code></pre>",
    });
  });

  it("links: bare and labelled; unsafe schemes become text", () => {
    expect(render("<https://example.org/a_b_c> and <https://example.org/x?a=1&amp;b=2|the *docs*>")).toEqual({
      body: "https://example.org/a_b_c and the *docs* (https://example.org/x?a=1&b=2)",
      html: '<a href="https://example.org/a_b_c">https://example.org/a_b_c</a> and <a href="https://example.org/x?a=1&amp;b=2">the *docs*</a>',
    });
    expect(render("<javascript:alert(1)|click>")).toEqual({ body: "click", html: "click" });
    expect(render("<mailto:a@example.org|a@example.org>").html).toBe('<a href="mailto:a@example.org">a@example.org</a>');
  });

  it("user mentions become pills to the ghost, with the name (escaped) as text", () => {
    expect(render("hi <@U0043>!")).toEqual({
      body: "hi Bob <B>!",
      html: 'hi <a href="https://matrix.to/#/@_slack_t0001_u0043:example.org">Bob &lt;B&gt;</a>!',
    });
  });

  it("channel links and special mentions show their names", () => {
    expect(render("see <#C0100|general>, <!here> <!subteam^S1|@devs>")).toEqual({
      body: "see #general, @here @devs",
      html: "see #general, @here @devs",
    });
  });

  it("styles around entities, and newlines as <br>", () => {
    expect(render("*see <https://a.example|here>*\nbye")).toEqual({
      body: "*see here (https://a.example)*\nbye",
      html: '<strong>see <a href="https://a.example">here</a></strong><br>bye',
    });
  });
});

describe("s2m: message event to the core's RemoteMessage", () => {
  const slackNames = { ghostUserId: mentions.userId, displayName: mentions.displayName };

  it("a plain message: portal per conversation, ghost per user, ts as id and time", () => {
    const event = MessageEvent.parse(plainMessage.event);
    expect(mentionedUsers(event.text)).toEqual([BOB]);
    expect(remoteMessage(TEAM, event.channel, { ...event, user: ALICE }, slackNames)).toEqual({
      kind: "message",
      portalKey: "T0001:C0100",
      sender: { id: "T0001:U0042", displayName: "Alice Anders" },
      messageId: "1700000000.123456",
      timestamp: 1700000000123,
      content: {
        msgtype: "m.text",
        body: "hello *world*, see the site (https://example.org) and ask Bob <B>",
        format: "org.matrix.custom.html",
        formatted_body:
          'hello <strong>world</strong>, see <a href="https://example.org">the site</a> and ask <a href="https://matrix.to/#/@_slack_t0001_u0043:example.org">Bob &lt;B&gt;</a>',
        "m.mentions": { user_ids: ["@_slack_t0001_u0043:example.org"] },
      },
    });
  });

  it("a thread reply goes into the root's thread (a real thread, not a reply)", () => {
    const event = MessageEvent.parse(threadReply.event);
    const message = remoteMessage(TEAM, event.channel, { ...event, user: ALICE }, slackNames);
    expect(message.threadRoot).toBe("1700000000.123456");
    expect(message.replyTo).toBeUndefined();
  });

  it("m.mentions: mentioned users' ghosts, and the room for @here / @channel / @everyone; always present", () => {
    expect(messageContent("hi <@U0042> <!here>", slackNames)["m.mentions"]).toEqual({ user_ids: ["@_slack_t0001_u0042:example.org"], room: true });
    expect(messageContent("<!channel|@channel> and <!subteam^S1|@devs>", slackNames)["m.mentions"]).toEqual({ room: true });
    expect(messageContent("nobody", slackNames)).toEqual({ msgtype: "m.text", body: "nobody", "m.mentions": {} });
  });

  it("ts compared exactly, to the microsecond", () => {
    expect(compareTs("1700000000.000002", "1700000000.000001")).toBeGreaterThan(0);
    expect(compareTs("1699999999.999999", "1700000000.000000")).toBeLessThan(0);
    expect(compareTs("1700000000.5", "1700000000.500000")).toBe(0);
  });

  it("ts to milliseconds", () => {
    expect(tsToMillis("1700000000.000001")).toBe(1700000000000);
    expect(tsToMillis("1700000000.9")).toBe(1700000000900);
  });
});

describe("emoji shortcodes <-> Unicode", () => {
  it("names and aliases to Unicode, with skin tones; unknown and custom names stay :name:", () => {
    expect(["+1", "thumbsup", "heart", "tada", "white_check_mark"].map(shortcodeToUnicode)).toEqual(["👍", "👍", "❤️", "🎉", "✅"]);
    expect(shortcodeToUnicode("+1::skin-tone-6")).toBe("👍🏿");
    expect(shortcodeToUnicode("party-parrot")).toBe(":party-parrot:");
  });

  it("Unicode to the first name, with or without the variation selector; custom :name: keys pass; others have none", () => {
    expect(["👍", "❤️", "❤", "👍🏻", ":party-parrot:"].map(unicodeToShortcode)).toEqual(["+1", "heart", "heart", "+1::skin-tone-2", "party-parrot"]);
    expect(unicodeToShortcode("🫠")).toBeUndefined();
  });

  it("shortcodes in message text, not in code or links", () => {
    expect(render("done :white_check_mark: `:tada:` <https://a.example/:tada:> :custom:")).toEqual({
      body: "done ✅ `:tada:` https://a.example/:tada: :custom:",
      html: 'done ✅ <code>:tada:</code> <a href="https://a.example/:tada:">https://a.example/:tada:</a> :custom:',
    });
  });

  it("custom workspace emoji with an image become inline emoticons; the body keeps :name:", () => {
    const custom = { ...mentions, customEmoji: (name: string) => (name === "party_parrot" ? "mxc://example.org/parrot" : undefined) };
    expect(renderMrkdwn("yay :party_parrot: :tada: :unknown: `:party_parrot:`", custom)).toEqual({
      body: "yay :party_parrot: 🎉 :unknown: `:party_parrot:`",
      html: 'yay <img data-mx-emoticon src="mxc://example.org/parrot" alt=":party_parrot:" title=":party_parrot:" height="32"> 🎉 :unknown: <code>:party_parrot:</code>',
    });
    // Only names that are not standard emoji are looked up.
    expect(customEmojiNames("yay :party_parrot: :tada: :party_parrot: :+1::skin-tone-2:")).toEqual(["party_parrot"]);
  });
});

describe("s2m: rich-text blocks", () => {
  it("sections, styles, mentions, a broadcast, emoji, a list, a quote and code, as body and HTML, with m.mentions", () => {
    expect(richTextContent(richTextMessage.event.blocks, mentions)).toEqual({
      msgtype: "m.text",
      body: "plan for Bob <B> @here:\n• ship it 🚀\n• the docs (https://example.org/a?b=1&c=2)\n> careful now\n```\na < b\n```",
      format: "org.matrix.custom.html",
      formatted_body:
        '<strong>plan</strong> for <a href="https://matrix.to/#/@_slack_t0001_u0043:example.org">Bob &lt;B&gt;</a> @here:<br>' +
        '<ul><li>ship it 🚀</li><li><a href="https://example.org/a?b=1&amp;c=2">the docs</a></li></ul>' +
        "<blockquote>careful <em><code>now</code></em></blockquote><pre><code>a &lt; b</code></pre>",
      "m.mentions": { user_ids: ["@_slack_t0001_u0043:example.org"], room: true },
    });
  });

  it("a custom emoji element with an image is an inline emoticon", () => {
    const blocks = [{ type: "rich_text", elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "go " }, { type: "emoji", name: "party_parrot" }] }] }];
    expect(richTextContent(blocks, { ...mentions, customEmoji: () => "mxc://example.org/parrot" })).toEqual({
      msgtype: "m.text",
      body: "go :party_parrot:",
      format: "org.matrix.custom.html",
      formatted_body: 'go <img data-mx-emoticon src="mxc://example.org/parrot" alt=":party_parrot:" title=":party_parrot:" height="32">',
      "m.mentions": {},
    });
  });

  it("a message with rich text is converted from its blocks, not its mrkdwn", () => {
    const event = MessageEvent.parse(richTextMessage.event);
    expect(remoteMessage(TEAM, event.channel, { ...event, user: ALICE }, { ghostUserId: mentions.userId, displayName: mentions.displayName }).content.body).toMatch(/^plan for Bob <B> @here:/);
  });

  it("no rich_text block, or an element it does not know: null (the mrkdwn text is used)", () => {
    expect(richTextContent(undefined, mentions)).toBeNull();
    expect(richTextContent([{ type: "section", text: { type: "mrkdwn", text: "x" } }], mentions)).toBeNull();
    expect(richTextContent([{ type: "rich_text", elements: [{ type: "rich_text_section", elements: [{ type: "team", team_id: "T1" }] }] }], mentions)).toBeNull();
  });
});
