import { type HtmlElement, type HtmlNode, attribute, parseHtml, textOf } from "../../core/matrix/html";
import type { MatrixMessageContent } from "../../core/network";

/**
 * Matrix m.room.message (m.text, m.notice, m.emote) to Discord message content (m2d), pure. HTML formatting maps
 * to Discord markdown; pills to our ghosts become real Discord mentions; any other text is escaped so it shows
 * exactly as written.
 */

export interface DiscordContent {
  content: string;
  /** Discord users mentioned through pills: the only ones the message may ping. */
  mentionedUserIds: string[];
}

/** The Discord user behind a Matrix user id, when it is one of our ghosts. */
export type GhostResolver = (matrixUserId: string) => string | undefined;

export function escapeDiscordMarkdown(text: string): string {
  return text.replace(/([\\*_~`|>])/g, "\\$1").replace(/<(?=[@#:a])/g, "\\<");
}

const WRAP: Record<string, string> = { strong: "**", b: "**", em: "*", i: "*", u: "__", del: "~~", s: "~~", strike: "~~" };

function render(node: HtmlNode, ghosts: GhostResolver, mentioned: string[]): string {
  if (typeof node === "string") return escapeDiscordMarkdown(node);
  const inner = () => node.children.map((c) => render(c, ghosts, mentioned)).join("");
  const wrap = WRAP[node.tag];
  if (wrap !== undefined) return `${wrap}${inner()}${wrap}`;
  switch (node.tag) {
    case "mx-reply":
      return "";
    case "br":
      return "\n";
    case "p":
    case "div":
      return `${inner()}\n`;
    case "code":
      return `\`${textOf(node)}\``;
    case "pre": {
      const code = node.children.find((c): c is HtmlElement => typeof c !== "string" && c.tag === "code");
      const lang = code ? /language-([\w+#.-]+)/.exec(attribute(code, "class") ?? "")?.[1] ?? "" : "";
      return `\`\`\`${lang}\n${textOf(code ?? node).replace(/\n$/, "")}\n\`\`\`\n`;
    }
    case "blockquote":
      return `${inner().replace(/\n+$/, "").split("\n").map((line) => `> ${line}`).join("\n")}\n`;
    case "li":
      return `- ${inner()}\n`;
    case "a": {
      const href = attribute(node, "href") ?? "";
      const pill = /^https:\/\/matrix\.to\/#\/(@[^?/]+)/.exec(href);
      const discordId = pill ? ghosts(decodeURIComponent(pill[1] ?? "")) : undefined;
      if (discordId !== undefined) {
        mentioned.push(discordId);
        return `<@${discordId}>`;
      }
      const text = textOf(node);
      if (text === href || href === "") return text;
      return `[${escapeDiscordMarkdown(text)}](${href})`;
    }
    default:
      return inner();
  }
}

/** The Discord content of a Matrix message. */
export function matrixToDiscord(content: MatrixMessageContent, ghosts: GhostResolver): DiscordContent {
  const mentioned: string[] = [];
  const text =
    content.format === "org.matrix.custom.html" && content.formatted_body !== undefined
      ? render(parseHtml(content.formatted_body), ghosts, mentioned).replace(/\n+$/, "")
      : escapeDiscordMarkdown(content.body);
  return { content: content.msgtype === "m.emote" ? `_${text}_` : text, mentionedUserIds: [...new Set(mentioned)] };
}
