import { describe, expect, it } from "vitest";
import { slackUserOfGhost } from "../config";
import { matrixToSlack } from "../m2s/convert-message";

const ghosts = (userId: string) => slackUserOfGhost(userId, "example.org")?.user;
const html = (formatted_body: string, body = "(fallback)") => ({ msgtype: "m.text" as const, body, format: "org.matrix.custom.html" as const, formatted_body });

describe("m2s: Matrix message to Slack mrkdwn", () => {
  it("a plain body is sent as written, with &, < and > escaped so nothing turns into a mention", () => {
    expect(matrixToSlack({ msgtype: "m.text", body: "a <@U1> & b > c" }, ghosts)).toBe("a &lt;@U1&gt; &amp; b &gt; c");
  });

  it("bold, italics, strike, inline code", () => {
    expect(matrixToSlack(html("<strong>b</strong> <em>i</em> <del>s</del> <b>b2</b> <code>a &lt; b</code>"), ghosts)).toBe("*b* _i_ ~s~ *b2* `a &lt; b`");
  });

  it("code blocks drop the language and keep the text", () => {
    expect(matrixToSlack(html('<pre><code class="language-ts">const a = 1 &lt; 2;\n</code></pre>'), ghosts)).toBe("```\nconst a = 1 &lt; 2;\n```");
  });

  it("links: bare when the text is the URL, labelled otherwise; unsafe schemes as text", () => {
    expect(matrixToSlack(html('<a href="https://a.example/">https://a.example/</a> <a href="https://b.example/x">the docs</a> <a href="javascript:x">no</a>'), ghosts)).toBe(
      "<https://a.example/> <https://b.example/x|the docs> no",
    );
  });

  it("pills to our ghosts become Slack mentions; other pills stay names", () => {
    expect(
      matrixToSlack(html('hi <a href="https://matrix.to/#/%40_slack_t0001_u0042%3Aexample.org">Alice</a> and <a href="https://matrix.to/#/@bob:other.org">Bob</a>'), ghosts),
    ).toBe("hi <@U0042> and Bob");
  });

  it("paragraphs, line breaks, quotes, lists; the reply fallback is dropped", () => {
    expect(matrixToSlack(html("<mx-reply><blockquote>old</blockquote></mx-reply><p>one<br>two</p><blockquote>q1<br>q2</blockquote><ul><li>x</li><li>y</li></ul>"), ghosts)).toBe(
      "one\ntwo\n> q1\n> q2\n• x\n• y",
    );
  });

  it("emotes are italic", () => {
    expect(matrixToSlack({ msgtype: "m.emote", body: "waves" }, ghosts)).toBe("_waves_");
  });
});
