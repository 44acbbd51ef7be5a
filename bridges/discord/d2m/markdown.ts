/**
 * Discord markdown to Matrix HTML (d2m), pure. Covers what Discord users type most: **bold**, *italics* / _italics_,
 * __underline__, ~~strike~~, `code`, ```code blocks```, masked [links](url), bare links, <@user> mentions and
 * backslash escapes. Delimiters match their nearest closer (no backtracking): good for everyday messages.
 */

export interface MentionResolver {
  /** The Matrix user to link a mentioned Discord user to (their ghost). */
  userId(discordId: string): string;
  /** Their display name, as Discord sent it with the message (falls back to the id). */
  displayName(discordId: string): string;
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
const MASKED_LINK = /^\[([^\]\n]+)\]\(<?(https?:\/\/[^\s)>]+)>?\)/;
const BARE_LINK = /^https?:\/\/[^\s<>]*[^\s<>.,:;"')\]!?]/;
/** `<https://...>`: a link whose embed is suppressed; Discord shows it without the brackets. */
const NO_EMBED_LINK = /^<(https?:\/\/[^\s>]+)>/;
const INLINE_CODE = /^(``?)([^`]|[^`][\s\S]*?[^`])\1(?!`)/;
const ESCAPABLE = /[\\*_~`|<>[\]()#-]/;
const SPANS: ReadonlyArray<[string, string]> = [
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

function renderHtml(src: string, mentions: MentionResolver): string {
  let out = "";
  let i = 0;
  outer: while (i < src.length) {
    const rest = src.slice(i);
    const ch = src[i] ?? "";
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
      out += `<${tag}>${renderHtml(src.slice(i + delim.length, end), mentions)}</${tag}>`;
      i = end + delim.length;
      continue outer;
    }
    out += ch === "\n" ? "<br>" : escapeHtml(ch);
    i++;
  }
  return out;
}

function renderBody(src: string, mentions: MentionResolver): string {
  return src.replace(/<@!?(\d+)>/g, (_, id: string) => mentions.displayName(id));
}

export function renderDiscordMarkdown(src: string, mentions: MentionResolver): RenderedMarkdown {
  const body = renderBody(src, mentions);
  const html = renderHtml(src, mentions);
  const plain = escapeHtml(body).replace(/\n/g, "<br>");
  return { body, html: html === plain ? undefined : html };
}
