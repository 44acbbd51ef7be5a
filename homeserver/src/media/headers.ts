/**
 * Headers on every media response, whatever its status: the spec's recommended Content-Security-Policy (so HTML or
 * SVG served from here can run nothing), no MIME sniffing, and readable by web clients on other origins.
 */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "cross-origin",
};

/** The spec's list of types that are safe to serve `inline` ("Serving inline content"). */
const INLINE_TYPES = new Set([
  "text/css",
  "text/plain",
  "text/csv",
  "application/json",
  "application/ld+json",
  "image/jpeg",
  "image/gif",
  "image/png",
  "image/apng",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
  "audio/mp4",
  "audio/webm",
  "audio/aac",
  "audio/mpeg",
  "audio/ogg",
  "audio/wave",
  "audio/wav",
  "audio/x-wav",
  "audio/x-pn-wav",
  "audio/flac",
  "audio/x-flac",
]);

/** The type without parameters, lowercased: `Text/Plain; charset=utf-8` -> `text/plain`. */
export function mimeEssence(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** A type/subtype with optional parameters, as an uploader may declare it; anything else is stored as octet-stream. */
export function normaliseContentType(header: string | undefined): string {
  const value = header?.trim() ?? "";
  if (value.length > 0 && value.length <= 255 && /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[\x20-\x7e]*)?$/.test(value)) {
    return value;
  }
  return "application/octet-stream";
}

/**
 * `inline` for the safe types, `attachment` otherwise, with the file name as RFC 6266 wants it: a plain quoted
 * `filename` when it is printable ASCII, otherwise an ASCII fallback plus `filename*` in UTF-8 (RFC 8187).
 */
export function contentDisposition(contentType: string, filename: string | null): string {
  const kind = INLINE_TYPES.has(mimeEssence(contentType)) ? "inline" : "attachment";
  return dispositionWithName(kind, filename);
}

export function dispositionWithName(kind: "inline" | "attachment", filename: string | null): string {
  if (filename === null || filename === "") return kind;
  if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) return `${kind}; filename="${filename}"`;
  const fallback = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${kind}; filename="${fallback}"; filename*=utf-8''${encodeRfc8187(filename)}`;
}

function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

export type ByteRange = { offset: number; length: number };

/**
 * One `Range: bytes=...` range against an object of `size` bytes. null means "serve it all" (no header, another
 * unit, a syntax we do not take, or several ranges, which RFC 9110 lets a server ignore); "unsatisfiable" is a 416.
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | "unsatisfiable" | null {
  if (!header) return null;
  const match = /^bytes=\s*(\d*)-(\d*)\s*$/i.exec(header.trim());
  if (!match) return null;
  const [, startText = "", endText = ""] = match;
  if (startText === "" && endText === "") return null;
  if (startText === "") {
    const suffix = Number(endText);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(startText);
  if (start >= size) return "unsatisfiable";
  if (endText === "") return { offset: start, length: size - start };
  const end = Number(endText);
  if (end < start) return null;
  return { offset: start, length: Math.min(end, size - 1) - start + 1 };
}
