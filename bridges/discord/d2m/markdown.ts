/**
 * Discord markdown to Matrix HTML (d2m), pure. Covers what Discord users type most: **bold**, *italics* / _italics_,
 * __underline__, ~~strike~~, `code`, ```code blocks```, masked [links](url), bare links, <@user> mentions, <#channel>
 * and <@&role> mentions (as `#name` / `@name` text), custom emoji (<:name:id> as an inline image when it was uploaded,
 * else `:name:` text), ||spoilers||,
 * backslash escapes, and at the start of a line: `> ` / `>>> ` block quotes, `#` to `###` headings, `- ` / `* ` and
 * `1. ` lists. Delimiters match their nearest closer (no backtracking): good for everyday messages.
 */

export interface MentionResolver {
  /** The Matrix user to link a mentioned Discord user to (their ghost). */
  userId(discordId: string): string;
  /** Their display name, as Discord sent it with the message (falls back to the id). */
  displayName(discordId: string): string;
  /** A channel's and a role's name, when the bridge knows them (else the id is shown). */
  channelName(discordId: string): string | undefined;
  roleName(discordId: string): string | undefined;
  /** A custom emoji's image in the media repository (mxc://), when the bridge has uploaded it. */
  emojiMxc(discordId: string): string | undefined;
}

export interface RenderedMarkdown {
  /** Plain text: the markdown as typed, mentions replaced by names. */
  body: string;
  /** HTML, or undefined when the message has no formatting at all. */
  html: string | undefined;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const MENTION = /^<@!?(\d+)>/;
/** `<#channel>`, `<@&role>` and custom emoji `<:name:id>` / `<a:name:id>`: shown as text, in body and HTML alike. */
const TEXT_TOKEN = /<#(\d+)>|<@&(\d+)>|<a?:(\w+):(\d+)>/;
const TEXT_TOKENS = new RegExp(TEXT_TOKEN.source, "g");
const TEXT_TOKEN_AT_START = new RegExp(`^(?:${TEXT_TOKEN.source})`);

function tokenText(mentions: MentionResolver, channel: string | undefined, role: string | undefined, emoji: string | undefined): string {
  if (channel !== undefined) return `#${mentions.channelName(channel) ?? channel}`;
  if (role !== undefined) return `@${mentions.roleName(role) ?? role}`;
  return `:${emoji ?? ""}:`;
}
const MASKED_LINK = /^\[([^\]\n]+)\]\(<?(https?:\/\/[^\s)>]+)>?\)/;
const BARE_LINK = /^https?:\/\/[^\s<>]*[^\s<>.,:;"')\]!?]/;
/** `<https://...>`: a link whose embed is suppressed; Discord shows it without the brackets. */
const NO_EMBED_LINK = /^<(https?:\/\/[^\s>]+)>/;
const INLINE_CODE = /^(``?)([^`]|[^`][\s\S]*?[^`])\1(?!`)/;
const ESCAPABLE = /[\\*_~`|<>[\]()#-]/;
const SPANS: ReadonlyArray<[string, string]> = [
  ["||", "span data-mx-spoiler"],
  ["**", "strong"],
  ["__", "u"],
  ["~~", "del"],
  ["*", "em"],
  ["_", "em"],
];
const WORD = /[\p{L}\p{N}]/u;

function codeBlock(inner: string): string {
  const firstLine = /^([\w+#.-]+)\n/.exec(inner);
  const lang = firstLine ? firstLine[1] : undefined;
  const code = (firstLine ? inner.slice(firstLine[0].length) : inner.replace(/^\n/, "")).replace(/\n$/, "");
  const cls = lang ? ` class="language-${escapeHtml(lang)}"` : "";
  return `<pre><code${cls}>${escapeHtml(code)}\n</code></pre>`;
}

/** Where a span opened at `start` with `delim` closes, or -1. */
function closing(src: string, start: number, delim: string): number {
  const from = start + delim.length;
  const next = src[from];
  if (next === undefined || /\s/.test(next)) return -1;
  // Intraword underscores (snake_case) are not emphasis on Discord.
  if (delim === "_" && start > 0 && WORD.test(src[start - 1] ?? "")) return -1;
  let end = src.indexOf(delim, from);
  while (end !== -1) {
    const after = src[end + delim.length];
    const singleStarInsideDouble = delim === "*" && after === "*";
    const wordAfterUnderscore = delim === "_" && after !== undefined && WORD.test(after);
    if (end > from && !/\s/.test(src[end - 1] ?? "") && !singleStarInsideDouble && !wordAfterUnderscore) {
      // In a run like `***`, the outer span closes on the run's last delimiters, leaving the inner span its own.
      while (delim.length > 1 && src[end + delim.length] === delim[0]) end++;
      return end;
    }
    end = src.indexOf(delim, end + (singleStarInsideDouble ? 2 : 1));
  }
  return -1;
}

const HEADING = /^(#{1,3}) (.+)(?:\n|$)/;
const LIST_ITEM = /^(?:[-*]|(\d+)\.) (.*)(?:\n|$)/;

/** A block at the start of a line (quote, heading, list): its HTML and how much source it took, or null. */
function block(rest: string, mentions: MentionResolver): { html: string; length: number } | null {
  if (rest.startsWith(">>> ")) return { html: `<blockquote>${renderHtml(rest.slice(4), mentions)}</blockquote>`, length: rest.length };
  if (rest.startsWith("> ")) {
    const lines = /^(?:> .*(?:\n|$))+/.exec(rest)?.[0] ?? "";
    const inner = lines.replace(/\n$/, "").split("\n").map((line) => line.slice(2)).join("\n");
    return { html: `<blockquote>${renderHtml(inner, mentions)}</blockquote>`, length: lines.length };
  }
  const heading = HEADING.exec(rest);
  if (heading) {
    const level = heading[1]?.length ?? 1;
    return { html: `<h${level}>${renderHtml(heading[2] ?? "", mentions)}</h${level}>`, length: heading[0].length };
  }
  const first = LIST_ITEM.exec(rest);
  if (!first) return null;
  const ordered = first[1] !== undefined;
  let length = 0;
  let items = "";
  let m: RegExpExecArray | null = first;
  while (m && (m[1] !== undefined) === ordered) {
    items += `<li>${renderHtml(m[2] ?? "", mentions)}</li>`;
    length += m[0].length;
    m = length < rest.length ? LIST_ITEM.exec(rest.slice(length)) : null;
  }
  const tag = ordered ? "ol" : "ul";
  const start = ordered && first[1] !== "1" ? ` start="${first[1]}"` : "";
  return { html: `<${tag}${start}>${items}</${tag}>`, length };
}

function renderHtml(src: string, mentions: MentionResolver): string {
  let out = "";
  let i = 0;
  outer: while (i < src.length) {
    const rest = src.slice(i);
    const ch = src[i] ?? "";
    const lineStart = i === 0 || src[i - 1] === "\n";
    const blockHere = lineStart ? block(rest, mentions) : null;
    if (blockHere) {
      out += blockHere.html;
      i += blockHere.length;
      continue;
    }
    if (rest.startsWith("```")) {
      const end = src.indexOf("```", i + 3);
      if (end > i + 3) {
        out += codeBlock(src.slice(i + 3, end));
        i = end + 3;
        if (src[i] === "\n") i++;
        continue;
      }
    }
    if (ch === "\\" && ESCAPABLE.test(src[i + 1] ?? "")) {
      out += escapeHtml(src[i + 1] ?? "");
      i += 2;
      continue;
    }
    let m = INLINE_CODE.exec(rest);
    if (m) {
      out += `<code>${escapeHtml(m[2] ?? "")}</code>`;
      i += m[0].length;
      continue;
    }
    if ((m = MENTION.exec(rest))) {
      const id = m[1] ?? "";
      out += `<a href="https://matrix.to/#/${escapeHtml(mentions.userId(id))}">${escapeHtml(mentions.displayName(id))}</a>`;
      i += m[0].length;
      continue;
    }
    if ((m = TEXT_TOKEN_AT_START.exec(rest))) {
      const image = m[3] !== undefined && m[4] !== undefined ? mentions.emojiMxc(m[4]) : undefined;
      // A custom emoji as an inline image (the emoticon convention clients render at text height).
      out += image !== undefined ? `<img data-mx-emoticon src="${escapeHtml(image)}" alt=":${m[3]}:" title=":${m[3]}:" height="32">` : escapeHtml(tokenText(mentions, m[1], m[2], m[3]));
      i += m[0].length;
      continue;
    }
    if ((m = NO_EMBED_LINK.exec(rest))) {
      out += `<a href="${escapeHtml(m[1] ?? "")}">${escapeHtml(m[1] ?? "")}</a>`;
      i += m[0].length;
      continue;
    }
    if ((m = MASKED_LINK.exec(rest))) {
      out += `<a href="${escapeHtml(m[2] ?? "")}">${renderHtml(m[1] ?? "", mentions)}</a>`;
      i += m[0].length;
      continue;
    }
    if ((m = BARE_LINK.exec(rest)) && !WORD.test(src[i - 1] ?? " ")) {
      out += `<a href="${escapeHtml(m[0])}">${escapeHtml(m[0])}</a>`;
      i += m[0].length;
      continue;
    }
    for (const [delim, tag] of SPANS) {
      if (!rest.startsWith(delim)) continue;
      const end = closing(src, i, delim);
      if (end === -1) continue;
      out += `<${tag}>${renderHtml(src.slice(i + delim.length, end), mentions)}</${tag.split(" ")[0]}>`;
      i = end + delim.length;
      continue outer;
    }
    out += ch === "\n" ? "<br>" : escapeHtml(ch);
    i++;
  }
  return out;
}

function renderBody(src: string, mentions: MentionResolver): string {
  return src
    .replace(/<@!?(\d+)>/g, (_, id: string) => mentions.displayName(id))
    .replace(TEXT_TOKENS, (_, channel?: string, role?: string, emoji?: string) => tokenText(mentions, channel, role, emoji));
}

export function renderDiscordMarkdown(src: string, mentions: MentionResolver): RenderedMarkdown {
  const body = renderBody(src, mentions);
  const html = renderHtml(src, mentions);
  const plain = escapeHtml(body).replace(/\n/g, "<br>");
  return { body, html: html === plain ? undefined : html };
}
