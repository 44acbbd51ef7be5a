import { describe, expect, it } from "vitest";
import { MessageEvent } from "../payloads";
import { mentionedUsers, remoteMessage, tsToMillis } from "../s2m/convert-message";
import { renderMrkdwn } from "../s2m/mrkdwn";
import { ALICE, BOB, TEAM, plainMessage, threadReply } from "./fixtures/events";

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
    expect(remoteMessage(TEAM, { ...event, user: ALICE }, slackNames)).toEqual({
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
      },
    });
  });

  it("a thread reply answers the thread's root", () => {
    const event = MessageEvent.parse(threadReply.event);
    expect(remoteMessage(TEAM, { ...event, user: ALICE }, slackNames).replyTo).toBe("1700000000.123456");
  });

  it("ts to milliseconds", () => {
    expect(tsToMillis("1700000000.000001")).toBe(1700000000000);
    expect(tsToMillis("1700000000.9")).toBe(1700000000900);
  });
});
