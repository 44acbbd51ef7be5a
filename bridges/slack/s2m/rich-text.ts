import { z } from "zod";
import type { MatrixMessageContent } from "../../core/network";
import { shortcodeToUnicode } from "../emoji";
import { type SlackMentionResolver, customEmojiHtml, escapeHtml } from "./mrkdwn";

/**
 * Slack rich-text blocks (https://api.slack.com/reference/block-kit/blocks#rich_text) to Matrix body + HTML, pure:
 * sections, bullet and numbered lists, quotes and code blocks, with bold / italic / strike / code styles, links,
 * user mentions (pills, `m.mentions`), `@here`-style broadcasts (`m.mentions.room`) and emoji. A block with anything
 * this does not know is not rendered (null): the message's mrkdwn `text` is used instead, so nothing is dropped.
 */

const Style = z.object({ bold: z.boolean().optional(), italic: z.boolean().optional(), strike: z.boolean().optional(), code: z.boolean().optional() }).optional();

const Inline = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string(), style: Style }),
  z.object({ type: z.literal("link"), url: z.string(), text: z.string().optional(), style: Style }),
  z.object({ type: z.literal("user"), user_id: z.string() }),
  z.object({ type: z.literal("usergroup"), usergroup_id: z.string() }),
  z.object({ type: z.literal("channel"), channel_id: z.string() }),
  z.object({ type: z.literal("emoji"), name: z.string(), unicode: z.string().optional() }),
  z.object({ type: z.literal("broadcast"), range: z.enum(["here", "channel", "everyone"]) }),
  z.object({ type: z.literal("date"), fallback: z.string().optional(), timestamp: z.number() }),
]);
type Inline = z.infer<typeof Inline>;

const Section = z.object({ type: z.literal("rich_text_section"), elements: z.array(Inline) });
const Element = z.discriminatedUnion("type", [
  Section,
  z.object({ type: z.literal("rich_text_list"), style: z.enum(["bullet", "ordered"]), elements: z.array(Section), offset: z.number().optional() }),
  z.object({ type: z.literal("rich_text_quote"), elements: z.array(Inline) }),
  z.object({ type: z.literal("rich_text_preformatted"), elements: z.array(Inline) }),
]);
const RichTextBlock = z.object({ type: z.literal("rich_text"), elements: z.array(Element) });

interface Rendered {
  body: string;
  html: string;
}

const SAFE_URL = /^(https?:|mailto:)/i;

/** An emoji element: Slack's code points (`1f44d-1f3fb`) when given, else the shortcode table, else `:name:`. */
function emoji(name: string, unicode: string | undefined): string {
  if (unicode !== undefined && /^[0-9a-f]+(?:-[0-9a-f]+)*$/i.test(unicode)) return String.fromCodePoint(...unicode.split("-").map((hex) => parseInt(hex, 16)));
  return shortcodeToUnicode(name);
}

function styled(text: Rendered, style: z.infer<typeof Style>): Rendered {
  let html = text.html;
  if (style?.code) html = `<code>${html}</code>`;
  if (style?.strike) html = `<del>${html}</del>`;
  if (style?.italic) html = `<em>${html}</em>`;
  if (style?.bold) html = `<strong>${html}</strong>`;
  return { body: text.body, html };
}

function inline(element: Inline, names: SlackMentionResolver, mentions: { users: Set<string>; room: boolean }): Rendered {
  switch (element.type) {
    case "text":
      return styled({ body: element.text, html: escapeHtml(element.text).replace(/\n/g, "<br>") }, element.style);
    case "link": {
      const shown = element.text ?? element.url;
      if (!SAFE_URL.test(element.url)) return { body: shown, html: escapeHtml(shown) };
      const body = element.text === undefined || element.text === element.url ? shown : `${shown} (${element.url})`;
      return styled({ body, html: `<a href="${escapeHtml(element.url)}">${escapeHtml(shown)}</a>` }, element.style);
    }
    case "user": {
      const userId = names.userId(element.user_id);
      mentions.users.add(userId);
      const name = names.displayName(element.user_id);
      return { body: name, html: `<a href="https://matrix.to/#/${escapeHtml(userId)}">${escapeHtml(name)}</a>` };
    }
    case "usergroup":
      return { body: `@${element.usergroup_id}`, html: escapeHtml(`@${element.usergroup_id}`) };
    case "channel":
      return { body: `#${element.channel_id}`, html: escapeHtml(`#${element.channel_id}`) };
    case "emoji": {
      const text = emoji(element.name, element.unicode);
      const mxc = text === `:${element.name}:` ? names.customEmoji?.(element.name) : undefined;
      return { body: text, html: mxc === undefined ? escapeHtml(text) : customEmojiHtml(element.name, mxc) };
    }
    case "broadcast":
      mentions.room = true;
      return { body: `@${element.range}`, html: `@${element.range}` };
    case "date": {
      const text = element.fallback ?? new Date(element.timestamp * 1000).toISOString();
      return { body: text, html: escapeHtml(text) };
    }
  }
}

const join = (parts: Rendered[]): Rendered => ({ body: parts.map((p) => p.body).join(""), html: parts.map((p) => p.html).join("") });

/** The content of a message's rich-text blocks, or null when it has none (or one this cannot render exactly). */
export function richTextContent(blocks: unknown[] | undefined, names: SlackMentionResolver): MatrixMessageContent | null {
  const richText = (blocks ?? []).filter((b) => typeof b === "object" && b !== null && (b as { type?: unknown }).type === "rich_text");
  if (richText.length === 0) return null;
  const parsed = richText.map((b) => RichTextBlock.safeParse(b));
  if (!parsed.every((p) => p.success)) return null;
  const mentions = { users: new Set<string>(), room: false };
  const line = (elements: Inline[]) => join(elements.map((e) => inline(e, names, mentions)));
  const parts: Rendered[] = [];
  for (const block of parsed) {
    for (const element of block.data?.elements ?? []) {
      switch (element.type) {
        case "rich_text_section":
          parts.push(line(element.elements));
          break;
        case "rich_text_list": {
          const items = element.elements.map((section) => line(section.elements));
          const tag = element.style === "ordered" ? "ol" : "ul";
          const start = element.offset ?? 0;
          parts.push({
            body: `${items.map((item, i) => `${element.style === "ordered" ? `${start + i + 1}.` : "•"} ${item.body}`).join("\n")}\n`,
            html: `<${tag}>${items.map((item) => `<li>${item.html}</li>`).join("")}</${tag}>`,
          });
          break;
        }
        case "rich_text_quote": {
          const quoted = line(element.elements);
          parts.push({ body: `${quoted.body.split("\n").map((l) => `> ${l}`).join("\n")}\n`, html: `<blockquote>${quoted.html}</blockquote>` });
          break;
        }
        case "rich_text_preformatted": {
          const code = element.elements.map((e) => (e.type === "text" || e.type === "link" ? (e.type === "text" ? e.text : (e.text ?? e.url)) : inline(e, names, mentions).body)).join("");
          parts.push({ body: `\`\`\`\n${code}\n\`\`\`\n`, html: `<pre><code>${escapeHtml(code)}</code></pre>` });
          break;
        }
      }
    }
  }
  const { body, html } = join(parts);
  const content: MatrixMessageContent = { msgtype: "m.text", body: body.replace(/\n+$/, ""), "m.mentions": {} };
  if (mentions.users.size > 0) content["m.mentions"] = { user_ids: [...mentions.users] };
  if (mentions.room) content["m.mentions"] = { ...content["m.mentions"], room: true };
  const plain = parts.every((p) => p.html === escapeHtml(p.body));
  return plain ? content : { ...content, format: "org.matrix.custom.html", formatted_body: html };
}
