import { type HtmlElement, type HtmlNode, attribute, parseHtml, textOf } from "../../core/matrix/html";
import type { MatrixMessageContent } from "../../core/network";

/**
 * Matrix m.room.message (m.text, m.notice, m.emote) to Slack mrkdwn (m2s), pure. HTML formatting maps to mrkdwn;
 * pills to our ghosts become real Slack mentions (<@U123>); &, < and > are escaped as Slack requires, so text
 * never turns into a mention or link by accident.
 */

/** The Slack user behind a Matrix user id, when it is one of our ghosts. */
export type GhostResolver = (matrixUserId: string) => string | undefined;

/** Slack's escaping of message text: only &, < and >. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function href(element: HtmlElement): string {
  return attribute(element, "href") ?? "";
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}


const MARKERS: Record<string, string> = { strong: "*", b: "*", em: "_", i: "_", del: "~", s: "~", strike: "~" };

function toMrkdwn(node: HtmlNode, ghosts: GhostResolver): string {
  if (typeof node === "string") return escapeSlack(node);
  const inner = () => node.children.map((child) => toMrkdwn(child, ghosts)).join("");
  const marker = MARKERS[node.tag];
  if (marker !== undefined) {
    const text = inner();
    return text.trim() === "" ? text : `${marker}${text}${marker}`;
  }
  switch (node.tag) {
    case "mx-reply":
      return "";
    case "br":
      return "\n";
    case "p":
    case "div":
      return `${inner()}\n`;
    case "code":
      return `\`${escapeSlack(textOf(node))}\``;
    case "pre":
      return `\`\`\`\n${escapeSlack(textOf(node).replace(/\n$/, ""))}\n\`\`\`\n`;
    case "blockquote":
      return `${inner().replace(/\n+$/, "").split("\n").map((line) => `> ${line}`).join("\n")}\n`;
    case "li":
      return `• ${inner()}\n`;
    case "a": {
      const url = href(node);
      const text = textOf(node);
      const pill = /^https:\/\/matrix\.to\/#\/((?:@|%40)[^?/]+)/.exec(url);
      if (pill) {
        // A pill: a Slack mention when it is one of our ghosts, else just the name (a link to matrix.to helps no one on Slack).
        const slackUser = ghosts(safeDecode(pill[1] ?? ""));
        return slackUser !== undefined ? `<@${slackUser}>` : escapeSlack(text);
      }
      if (!/^(https?:|mailto:)/i.test(url)) return escapeSlack(text);
      if (text === url || text === "") return `<${url}>`;
      return `<${url}|${escapeSlack(text).replace(/\|/g, "∣")}>`;
    }
    default:
      return inner();
  }
}

/** The Slack mrkdwn text of a Matrix message. */
export function matrixToSlack(content: MatrixMessageContent, ghosts: GhostResolver): string {
  const text =
    content.format === "org.matrix.custom.html" && content.formatted_body !== undefined
      ? toMrkdwn(parseHtml(content.formatted_body), ghosts).replace(/\n+$/, "")
      : escapeSlack(content.body);
  return content.msgtype === "m.emote" ? `_${text}_` : text;
}
