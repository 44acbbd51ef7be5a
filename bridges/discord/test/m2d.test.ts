import { describe, expect, it } from "vitest";
import { matrixToDiscord } from "../m2d/convert-message";
import { discordIdOfGhost } from "../network-api";
import { leadingReplyQuote, messageLink, replyQuote, webhookUsername } from "../m2d/webhook";

const ghosts = (userId: string) => discordIdOfGhost(userId, "example.org");
const html = (formatted_body: string, body = "(fallback)") => ({ msgtype: "m.text" as const, body, format: "org.matrix.custom.html" as const, formatted_body });

describe("m2d: Matrix message to Discord content", () => {
  it("plain body, with Discord markdown characters escaped so it shows as written", () => {
    expect(matrixToDiscord({ msgtype: "m.text", body: "2*3*4 and snake_case ~x~ `y`" }, ghosts)).toEqual({
      content: "2\\*3\\*4 and snake\\_case \\~x\\~ \\`y\\`",
      mentionedUserIds: [],
    });
  });

  it("bold, italics, strike, underline, inline code", () => {
    expect(matrixToDiscord(html("<strong>b</strong> <em>i</em> <del>s</del> <u>u</u> <code>a*b</code>"), ghosts).content).toBe(
      "**b** *i* ~~s~~ __u__ `a*b`",
    );
  });

  it("code blocks keep their language and text", () => {
    expect(matrixToDiscord(html('<pre><code class="language-ts">const a = 1 &lt; 2;\n</code></pre>'), ghosts).content).toBe(
      "```ts\nconst a = 1 < 2;\n```",
    );
  });

  it("links: plain when the text is the URL, masked otherwise", () => {
    expect(matrixToDiscord(html('<a href="https://a.example/">https://a.example/</a> <a href="https://b.example/x">docs</a>'), ghosts).content).toBe(
      "https://a.example/ [docs](https://b.example/x)",
    );
  });

  it("pills to ghosts become Discord mentions (and the only allowed pings); other pills stay text", () => {
    expect(
      matrixToDiscord(
        html('hi <a href="https://matrix.to/#/@_discord_320067006521147393:example.org">kumaccino</a> and <a href="https://matrix.to/#/@bob:example.org">Bob</a>'),
        ghosts,
      ),
    ).toEqual({ content: "hi <@320067006521147393> and [Bob](https://matrix.to/#/@bob:example.org)", mentionedUserIds: ["320067006521147393"] });
  });

  it("drops reply fallbacks, turns paragraphs, breaks and quotes into lines", () => {
    expect(
      matrixToDiscord(html("<mx-reply><blockquote>old</blockquote></mx-reply><p>one<br>two</p><blockquote>quoted</blockquote>"), ghosts).content,
    ).toBe("one\ntwo\n> quoted");
  });

  it("emotes are italic", () => {
    expect(matrixToDiscord({ msgtype: "m.emote", body: "waves" }, ghosts).content).toBe("_waves_");
  });

  it("tells our ghosts from other users", () => {
    expect(discordIdOfGhost("@_discord_123:example.org", "example.org")).toBe("123");
    expect(discordIdOfGhost("@_discord_123:other.org", "example.org")).toBeUndefined();
    expect(discordIdOfGhost("@_discord_bot:example.org", "example.org")).toBeUndefined();
  });
});

describe("m2d: the webhook's view of the person", () => {
  it("a display name as a webhook username: refused words broken, at most 80 characters, the user id when there is none", () => {
    expect(webhookUsername("Clyde from Discord", "@a:x")).toBe("C\u200blyde from D\u200biscord");
    expect(webhookUsername("  ", "@a:x")).toBe("@a:x");
    expect(webhookUsername(undefined, "@a:x")).toBe("@a:x");
    expect(webhookUsername("Here", "@a:x")).toBe("Here\u200b");
    expect([...webhookUsername("é".repeat(100), "@a:x")]).toHaveLength(80);
  });

  it("a reply as a quoted jump link, the author's name escaped; without a name, just the link", () => {
    const link = messageLink("9", "1", "79");
    expect(link).toBe("https://discord.com/channels/9/1/79");
    expect(replyQuote("*star* [x]", link)).toBe("> [reply to @\\*star\\* \\[x\\]](https://discord.com/channels/9/1/79)\n");
    expect(replyQuote(undefined, link)).toBe("> [reply](https://discord.com/channels/9/1/79)\n");
  });

  it("finds the reply quote at the start of a posted message (for an edit to keep it), and nothing in a plain block quote", () => {
    const link = messageLink("9", "1", "79");
    for (const name of ["*star* [x]", "a]b\\", undefined]) expect(leadingReplyQuote(`${replyQuote(name, link)}the answer`)).toBe(replyQuote(name, link));
    expect(leadingReplyQuote("> [reply](https://example.org/x)\nphish")).toBe("");
    expect(leadingReplyQuote("> quoted\nanswer")).toBe("");
    expect(leadingReplyQuote(`answer\n${replyQuote(undefined, link)}`)).toBe("");
  });
});
