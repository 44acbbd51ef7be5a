import { describe, expect, it } from "vitest";
import { DISCORD_CONTENT_MAX, splitDiscordContent } from "../m2d/split";

describe("m2d: content longer than Discord takes, split into messages", () => {
  it("short content is one message, as it is", () => {
    expect(splitDiscordContent("hello")).toEqual(["hello"]);
    const exact = "x".repeat(DISCORD_CONTENT_MAX);
    expect(splitDiscordContent(exact)).toEqual([exact]);
  });

  it("cuts at line breaks, filling each message", () => {
    expect(splitDiscordContent("aaaa\nbbbb\ncccc\ndd", 10)).toEqual(["aaaa\nbbbb", "cccc\ndd"]);
  });

  it("a line longer than a message is cut at its spaces, else anywhere (never inside a surrogate pair)", () => {
    expect(splitDiscordContent("one two three four", 9)).toEqual(["one two", "three", "four"]);
    expect(splitDiscordContent("abcdefghijk", 4)).toEqual(["abcd", "efgh", "ijk"]);
    expect(splitDiscordContent("ab😀cd", 3)).toEqual(["ab", "😀c", "d"]);
  });

  it("a code block cut in two is closed and reopened with its language", () => {
    const content = "intro\n```ts\nconst a = 1;\nconst b = 2;\n```\nafter";
    expect(splitDiscordContent(content, 30)).toEqual(["intro\n```ts\nconst a = 1;\n```", "```ts\nconst b = 2;\n```\nafter"]);
    for (const part of splitDiscordContent(content, 30)) expect(part.length).toBeLessThanOrEqual(30);
  });

  it("a 4,500-character text with a long code block: 3 messages, each within the limit, each block balanced, nothing lost", () => {
    const prose = Array.from({ length: 30 }, (_, i) => `line ${i} of some prose that goes on for a while to fill up space`).join("\n");
    const code = Array.from({ length: 40 }, (_, i) => `  let value${i} = compute(${i}); // step ${i}`).join("\n");
    const content = `${prose}\n\`\`\`js\n${code}\n\`\`\`\n${prose}`.slice(0, 4500);
    const parts = splitDiscordContent(content);
    expect(parts).toHaveLength(3);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(DISCORD_CONTENT_MAX);
      expect((part.match(/```/g) ?? []).length % 2).toBe(0);
    }
    // Joined back (the added fences removed), the text is the original's.
    expect(parts.join("\n").replace(/\n```\n```js\n/g, "\n")).toBe(content);
  });
});
