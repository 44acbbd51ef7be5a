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

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

export function escapeDiscordMarkdown(text: string): string {
  return text.replace(/([\\*_~`|>])/g, "\\$1").replace(/<(?=[@#:a])/g, "\\<");
}

interface Node {
  tag: string;
  attrs: string;
  children: (Node | string)[];
}

const VOID = new Set(["br", "img", "hr"]);

/** A forgiving HTML tree builder for the small formatted_body subset clients send (no DOM in a Worker). */
function parseHtml(html: string): Node {
  const root: Node = { tag: "#root", attrs: "", children: [] };
  const stack: Node[] = [root];
  const token = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>|([^<]+|<)/g;
  for (const m of html.matchAll(token)) {
    const top = stack[stack.length - 1] ?? root;
    const [, closingSlash, rawTag, attrs, text] = m;
    if (text !== undefined) {
      top.children.push(decodeEntities(text));
      continue;
    }
    const tag = (rawTag ?? "").toLowerCase();
    if (closingSlash) {
      const at = stack.map((n) => n.tag).lastIndexOf(tag);
      if (at > 0) stack.length = at;
      continue;
    }
    const node: Node = { tag, attrs: attrs ?? "", children: [] };
    top.children.push(node);
    if (!VOID.has(tag) && !(attrs ?? "").trim().endsWith("/")) stack.push(node);
  }
  return root;
}

function attr(node: Node, name: string): string | undefined {
  const m = new RegExp(`${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, "i").exec(node.attrs);
  return m ? decodeEntities(m[2] ?? m[3] ?? "") : undefined;
}

function textOf(node: Node | string): string {
  return typeof node === "string" ? node : node.children.map(textOf).join("");
}

const WRAP: Record<string, string> = { strong: "**", b: "**", em: "*", i: "*", u: "__", del: "~~", s: "~~", strike: "~~" };

function render(node: Node | string, ghosts: GhostResolver, mentioned: string[]): string {
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
      const code = node.children.find((c): c is Node => typeof c !== "string" && c.tag === "code");
      const lang = code ? /language-([\w+#.-]+)/.exec(attr(code, "class") ?? "")?.[1] ?? "" : "";
      return `\`\`\`${lang}\n${textOf(code ?? node).replace(/\n$/, "")}\n\`\`\`\n`;
    }
    case "blockquote":
      return `${inner().replace(/\n+$/, "").split("\n").map((line) => `> ${line}`).join("\n")}\n`;
    case "li":
      return `- ${inner()}\n`;
    case "a": {
      const href = attr(node, "href") ?? "";
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

/**
 * A reply's body without its fallback (the quoted `> <@user> text` lines and the blank line after them), which
 * older clients still prepend: Discord shows the reply itself.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i === 0 || lines[i] !== "") return body;
  return lines.slice(i + 1).join("\n");
}
