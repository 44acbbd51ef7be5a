/**
 * A forgiving reader for the small HTML subset Matrix clients put in `formatted_body` (there is no DOM in a
 * Worker). Shared by the connectors' Matrix-to-network converters, which render the tree in their own markup.
 */

export interface HtmlElement {
  tag: string;
  attrs: string;
  children: HtmlNode[];
}
export type HtmlNode = HtmlElement | string;

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (/^#x/i.test(name)) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

const VOID_TAGS = new Set(["br", "hr", "img"]);

/** Builds the element tree; unknown or unbalanced tags are tolerated, text is entity-decoded. */
export function parseHtml(html: string): HtmlElement {
  const root: HtmlElement = { tag: "", attrs: "", children: [] };
  const open: HtmlElement[] = [root];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*)>|([^<]+|<)/g)) {
    const parent = open[open.length - 1] ?? root;
    const [, slash, name, attrs = "", text] = m;
    if (text !== undefined) {
      parent.children.push(decodeEntities(text));
      continue;
    }
    const tag = (name ?? "").toLowerCase();
    if (slash) {
      const at = open.map((e) => e.tag).lastIndexOf(tag);
      if (at > 0) open.length = at;
      continue;
    }
    const element: HtmlElement = { tag, attrs, children: [] };
    parent.children.push(element);
    if (!VOID_TAGS.has(tag) && !attrs.trim().endsWith("/")) open.push(element);
  }
  return root;
}

/** An attribute's decoded value, if present. */
export function attribute(element: HtmlElement, name: string): string | undefined {
  const m = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, "i").exec(element.attrs);
  return m ? decodeEntities(m[1] ?? m[2] ?? "") : undefined;
}

/** The text content of a node. */
export function textOf(node: HtmlNode): string {
  return typeof node === "string" ? node : node.children.map(textOf).join("");
}
