import { describe, expect, it } from "vitest";
import { messageContent, remoteMessage } from "../d2m/convert-message";
import { MessageCreate } from "../gateway/payloads";
import * as fixtures from "./fixtures/messages";

const ghost = (id: string) => `@_discord_${id}:example.org`;
const convert = (fixture: unknown) => messageContent(MessageCreate.parse(fixture), ghost);

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

  it("user mentions become pills to the ghost, named as Discord sent them", () => {
    expect(convert(fixtures.mention)).toEqual({
      msgtype: "m.text",
      body: "hey kumaccino and 999",
      format: "org.matrix.custom.html",
      formatted_body:
        'hey <a href="https://matrix.to/#/@_discord_320067006521147393:example.org">kumaccino</a> and <a href="https://matrix.to/#/@_discord_999:example.org">999</a>',
    });
  });

  it("backslash escapes, HTML-looking text and newlines", () => {
    expect(convert(fixtures.escapes).formatted_body).toBe("not *bold* &lt;b&gt;html&lt;/b&gt; &amp; more<br>second line");
  });

  it("wraps the message for its portal: channel, author ghost, id and timestamp", () => {
    const event = remoteMessage(MessageCreate.parse(fixtures.bold), ghost);
    expect(event).toMatchObject({
      kind: "message",
      portalKey: "112760669178241024",
      sender: { id: "113340068197859328", displayName: "Cadence" },
      messageId: "1126405859034419222",
      timestamp: Date.parse("2023-07-06T05:56:33.118Z"),
    });
  });

  it("rejects a payload without an author (zod at the gateway boundary)", () => {
    expect(() => MessageCreate.parse({ ...fixtures.plain, author: undefined })).toThrow();
  });
});
