/**
 * Discord refuses a message whose content is longer than 2,000 characters: longer Matrix text goes as several
 * Discord messages (m2d, pure).
 */

/** Discord's limit on a message's `content`. */
export const DISCORD_CONTENT_MAX = 2000;
/** What closes a code block cut in two (on its own line). */
const FENCE_CLOSE = "\n```";

/** The code block open after `line`: a line with an odd number of ``` opens one (its first line is kept) or closes it. */
function fenceAfter(open: string | null, line: string): string | null {
  if ((line.match(/```/g) ?? []).length % 2 === 0) return open;
  return open === null ? (/^```[\w+#.-]*$/.exec(line.trim())?.[0] ?? "```") : null;
}

/** A line too long for what is left of a message: cut at its last space that fits, else at `room` (not inside a surrogate pair). */
function cutLine(line: string, room: number): [head: string, rest: string] {
  const space = line.lastIndexOf(" ", room);
  if (space > 0) return [line.slice(0, space), line.slice(space + 1)];
  const at = /[\uD800-\uDBFF]/.test(line.charAt(room - 1)) && room > 1 ? room - 1 : room;
  return [line.slice(0, at), line.slice(at)];
}

/**
 * Content as Discord messages of at most `max` characters (UTF-16 code units, never fewer than Discord counts), in
 * order: cut at line breaks, a line longer than a message at its spaces. A code block cut in two is closed with ```
 * at the end of one message and reopened, with its language, at the start of the next. Blank parts are left out.
 */
export function splitDiscordContent(content: string, max = DISCORD_CONTENT_MAX): string[] {
  if (content.length <= max) return [content];
  const parts: string[] = [];
  const lines = content.split("\n");
  let current: string[] = [];
  /** The opening line of the code block open at the end of `current`. */
  let fence: string | null = null;
  const length = (extra: string) => (current.length === 0 ? extra.length : current.join("\n").length + 1 + extra.length);
  const flush = () => {
    parts.push(current.join("\n") + (fence === null ? "" : FENCE_CLOSE));
    current = fence === null ? [] : [fence];
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const after = fenceAfter(fence, line);
    if (length(line) + (after === null ? 0 : FENCE_CLOSE.length) <= max) {
      current.push(line);
      fence = after;
      i++;
      continue;
    }
    // Only a reopened fence (or nothing) so far: this line alone does not fit in a message, so it is cut.
    if (current.length > (fence === null ? 0 : 1)) {
      flush();
      continue;
    }
    // Room for a closing fence when a code block is (or may become) open.
    const reserve = fence !== null || line.includes("```") ? FENCE_CLOSE.length : 0;
    const [head, rest] = cutLine(line, Math.max(1, max - length("") - reserve));
    current.push(head);
    fence = fenceAfter(fence, head);
    lines[i] = rest;
    flush();
  }
  if (current.length > (fence === null ? 0 : 1)) flush();
  return parts.filter((part) => part.trim() !== "");
}
