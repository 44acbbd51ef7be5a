import { SHORTCODE, replaceShortcodes } from "../emoji";

/**
 * Slack mrkdwn to Matrix body + HTML (s2m), pure. Covers what Slack clients send: *bold*, _italic_, ~strike~,
 * `code`, ```code blocks```, links (<url> and <url|text>), user mentions (<@U123>), channel links (<#C123|name>)
 * special mentions (<!here>) and emoji shortcodes (:tada:). Slack escapes only &, < and > in text, so every `<...>` is an entity.
 */

export interface SlackMentionResolver {
  /** The Matrix user to link a mentioned Slack user to (their ghost). */
  userId(slackUserId: string): string;
  /** Their display name (falls back to the id). */
  displayName(slackUserId: string): string;
  /** A custom workspace emoji's image in the media repository (mxc://), when it is one. */
  customEmoji?(name: string): string | undefined;
}

export interface RenderedMrkdwn {
  /** Plain text: the mrkdwn as typed, entities resolved (names for mentions, link texts with their URLs). */
  body: string;
  /** HTML, or undefined when the message has no formatting at all. */
  html: string | undefined;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A custom emoji inline, as Matrix clients show custom emoji (an `img` with `data-mx-emoticon`). */
export function customEmojiHtml(name: string, mxc: string): string {
  return `<img data-mx-emoticon src="${escapeHtml(mxc)}" alt=":${escapeHtml(name)}:" title=":${escapeHtml(name)}:" height="32">`;
}

/** Slack's three escapes, undone. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** A piece lifted out before styles are parsed, so `*` or `_` inside code or a URL never starts a style. */
interface Atom {
  body: string;
  html: string;
}

/** Private-use placeholders for atoms: never in a Slack message, never a style marker or a word character. */
const PLACEHOLDER = /\uE000(\d+)\uE001/g;
const SAFE_URL = /^(https?:|mailto:)/i;
const STYLES: Record<string, string> = { "*": "strong", _: "em", "~": "del" };
/** A style span: the opener at a word start, text not starting or ending with a space, the closer at a word end. */
const STYLE = /(^|[^\p{L}\p{N}])([*_~])(?=\S)([^\n]*?\S)\2(?![\p{L}\p{N}])/u;

function entity(inner: string, mentions: SlackMentionResolver): Atom {
  const [target = "", label] = inner.split("|", 2) as [string, string | undefined];
  const text = label === undefined ? undefined : unescapeSlack(label);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = mentions.displayName(id);
    return { body: name, html: `<a href="https://matrix.to/#/${escapeHtml(mentions.userId(id))}">${escapeHtml(name)}</a>` };
  }
  if (target.startsWith("#")) {
    const name = `#${text ?? target.slice(1)}`;
    return { body: name, html: escapeHtml(name) };
  }
  if (target.startsWith("!")) {
    // <!here>, <!channel>, <!everyone>, <!subteam^ID|@team>, <!date^...|fallback>: show the label or the keyword.
    const name = text ?? `@${target.slice(1).split("^", 1)[0] ?? ""}`;
    return { body: name, html: escapeHtml(name) };
  }
  const url = unescapeSlack(target);
  const shown = text ?? url.replace(/^mailto:/i, "");
  if (!SAFE_URL.test(url)) return { body: shown, html: escapeHtml(shown) };
  return { body: shown === url || text === undefined ? shown : `${shown} (${url})`, html: `<a href="${escapeHtml(url)}">${escapeHtml(shown)}</a>` };
}

type Node = string | { tag: string; children: Node[] };

function parseStyles(text: string): Node[] {
  const nodes: Node[] = [];
  let rest = text;
  for (let m = STYLE.exec(rest); m !== null; m = STYLE.exec(rest)) {
    const [whole, before = "", marker = "", inner = ""] = m;
    nodes.push(rest.slice(0, m.index) + before);
    nodes.push({ tag: STYLES[marker] ?? "span", children: parseStyles(inner) });
    rest = rest.slice(m.index + whole.length);
  }
  nodes.push(rest);
  return nodes.filter((n) => n !== "");
}

export function renderMrkdwn(text: string, mentions: SlackMentionResolver): RenderedMrkdwn {
  const atoms: Atom[] = [];
  const lift = (atom: Atom) => `\uE000${atoms.push(atom) - 1}\uE001`;
  const lifted = text
    .replace(/```\n?([\s\S]*?)\n?```/g, (whole, code: string) => lift({ body: unescapeSlack(whole), html: `<pre><code>${escapeHtml(unescapeSlack(code))}</code></pre>` }))
    .replace(/`([^`\n]+)`/g, (whole, code: string) => lift({ body: unescapeSlack(whole), html: `<code>${escapeHtml(unescapeSlack(code))}</code>` }))
    .replace(/<([^<>\n]+)>/g, (_whole, inner: string) => lift(entity(inner, mentions)))
    // After code and entities are lifted out, so `:x:` in code or a URL stays as typed. Custom emoji as images.
    .replace(SHORTCODE, (code, name: string) => {
      const unicode = replaceShortcodes(code);
      const mxc = unicode === code ? mentions.customEmoji?.(name) : undefined;
      return mxc === undefined ? unicode : lift({ body: code, html: customEmojiHtml(name, mxc) });
    });

  let formatted = atoms.length > 0;
  const render = (nodes: Node[]): string =>
    nodes
      .map((node) => {
        if (typeof node !== "string") {
          formatted = true;
          return `<${node.tag}>${render(node.children)}</${node.tag}>`;
        }
        const html = escapeHtml(unescapeSlack(node)).replace(/\n/g, "<br>");
        return html.replace(PLACEHOLDER, (_p, i: string) => atoms[Number(i)]?.html ?? "");
      })
      .join("");
  const html = render(parseStyles(lifted));
  // The body keeps the style markers as typed (they read well as plain text); only entities are resolved.
  const body = unescapeSlack(lifted).replace(PLACEHOLDER, (_p, i: string) => atoms[Number(i)]?.body ?? "");
  return { body, html: formatted ? html : undefined };
}
