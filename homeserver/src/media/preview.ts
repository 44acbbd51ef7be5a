import type { Config } from "../config";
import { MatrixError, forbidden, invalidParam } from "../http/errors";
import { insertUploadedMedia } from "../storage/media";
import { isPrivateHost } from "./address";
import { mimeEssence } from "./headers";
import { newMediaId } from "./ids";
import { readImageInfo } from "./image-size";
import { contentKey } from "./store";

const MAX_REDIRECTS = 5;
const CACHE_TTL_SECONDS = 3600;
const MAX_VALUE_CHARS = 1000;
/** Preview images larger than this are left out of the preview rather than stored. */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export interface PreviewDeps {
  kv: KVNamespace;
  db: D1Database;
  bucket: R2Bucket;
  config: Config;
}

export type Preview = Record<string, string | number>;

/**
 * GET preview_url: fetches the page (time- and size-capped, following at most a few redirects, each checked
 * against private addresses), reads its OpenGraph tags and title, and caches the answer in KV for an hour.
 * The page's `og:image` (or the URL itself, when it is an image) is fetched under the same rules, stored as media
 * of the requester, and given as an mxc URI as the spec requires; an image that cannot be had is left out.
 */
export async function previewUrl(deps: PreviewDeps, userId: string, url: string): Promise<Preview> {
  if (!deps.config.URL_PREVIEW_ENABLED) throw forbidden("URL previews are disabled on this server");
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw invalidParam("The url parameter is not a URL");
  }
  checkTarget(target, deps.config);
  const cacheKey = `url_preview:${await sha256Hex(target.href)}`;
  const cached = await deps.kv.get<Preview>(cacheKey, "json");
  if (cached) return cached;

  const { response, url: finalUrl } = await fetchFollowing(target, deps.config);
  const contentType = response.headers.get("content-type") ?? "";
  let preview: Preview = {};
  if (IMAGE_TYPES.has(mimeEssence(contentType))) {
    preview = await storeImage(deps, userId, response);
  } else if (/^\s*(text\/html|application\/xhtml\+xml)/i.test(contentType)) {
    const html = await readCapped(response, deps.config.URL_PREVIEW_MAX_BYTES);
    const page = await parseOpenGraph(new Response(html, { headers: { "content-type": contentType } }));
    const { imageUrl, ...og } = page;
    preview = og;
    if (imageUrl) preview = { ...preview, ...(await previewImage(deps, userId, imageUrl, finalUrl)) };
  } else {
    await response.body?.cancel();
  }
  await deps.kv.put(cacheKey, JSON.stringify(preview), { expirationTtl: CACHE_TTL_SECONDS });
  return preview;
}

function checkTarget(target: URL, config: Config): void {
  if (target.protocol !== "http:" && target.protocol !== "https:") throw invalidParam("Only http and https URLs can be previewed");
  if (target.username || target.password) throw invalidParam("URLs with credentials cannot be previewed");
  if (!config.URL_PREVIEW_ALLOW_PRIVATE && isPrivateHost(target.hostname)) {
    throw forbidden("URLs on private or loopback addresses cannot be previewed");
  }
}

const fetchFailed = (why: string) => new MatrixError(502, "M_UNKNOWN", `Could not fetch the URL: ${why}`);

async function fetchFollowing(start: URL, config: Config): Promise<{ response: Response; url: URL }> {
  const signal = AbortSignal.timeout(config.URL_PREVIEW_TIMEOUT_MS);
  let target = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let response: Response;
    try {
      response = await fetch(target.href, {
        redirect: "manual",
        signal,
        headers: { accept: "text/html,application/xhtml+xml;q=0.9,image/*;q=0.8,*/*;q=0.1", "user-agent": "matrix-inbox URL preview" },
      });
    } catch (err) {
      throw fetchFailed(err instanceof Error && err.name === "TimeoutError" ? "timed out" : "connection failed");
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      try {
        target = new URL(location, target);
      } catch {
        throw fetchFailed("bad redirect");
      }
      checkTarget(target, config);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw fetchFailed(`status ${response.status}`);
    }
    return { response, url: target };
  }
  throw fetchFailed("too many redirects");
}

/** The page's image, fetched and stored; {} when it is unreachable, refused, too large or not an image. */
async function previewImage(deps: PreviewDeps, userId: string, imageUrl: string, page: URL): Promise<Preview> {
  try {
    const target = new URL(imageUrl, page);
    checkTarget(target, deps.config);
    const { response } = await fetchFollowing(target, deps.config);
    if (!IMAGE_TYPES.has(mimeEssence(response.headers.get("content-type") ?? ""))) {
      await response.body?.cancel();
      return {};
    }
    return await storeImage(deps, userId, response);
  } catch (err) {
    if (err instanceof MatrixError || err instanceof TypeError) return {};
    throw err;
  }
}

/** Stores an image response as media of the requester and describes it as the spec's preview fields. */
async function storeImage(deps: PreviewDeps, userId: string, response: Response): Promise<Preview> {
  const contentType = mimeEssence(response.headers.get("content-type") ?? "");
  const bytes = await readCapped(response, MAX_IMAGE_BYTES + 1);
  if (bytes.byteLength > MAX_IMAGE_BYTES || bytes.byteLength === 0) return {};
  const mediaId = newMediaId();
  await deps.bucket.put(contentKey(mediaId), bytes, { httpMetadata: { contentType } });
  await insertUploadedMedia(deps.db, { mediaId, userId, size: bytes.byteLength, contentType, filename: null, now: Date.now() });
  const preview: Preview = {
    "og:image": `mxc://${deps.config.SERVER_NAME}/${mediaId}`,
    "og:image:type": contentType,
    "matrix:image:size": bytes.byteLength,
  };
  const info = readImageInfo(bytes);
  if (info) {
    preview["og:image:width"] = info.width;
    preview["og:image:height"] = info.height;
  }
  return preview;
}

/** At most `maxBytes` of the body: a page may be larger, but its head (where the tags are) comes first. */
async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const out = new Uint8Array(maxBytes);
  let length = 0;
  while (length < maxBytes) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, maxBytes - length);
    out.set(value.subarray(0, take), length);
    length += take;
  }
  await reader.cancel().catch(() => undefined);
  return out.subarray(0, length);
}

/**
 * OpenGraph `og:*` meta tags of an HTML page, with `<title>` and the meta description as fallbacks. The `og:image`
 * URL comes back apart, as `imageUrl`, since a preview may only carry it as an mxc URI.
 */
export async function parseOpenGraph(page: Response): Promise<Record<string, string> & { imageUrl?: string }> {
  const og: Record<string, string> = {};
  let title = "";
  let description: string | null = null;
  const rewriter = new HTMLRewriter()
    .on("meta", {
      element(el) {
        const key = (el.getAttribute("property") ?? el.getAttribute("name") ?? "").toLowerCase();
        const content = el.getAttribute("content");
        if (content === null) return;
        if (key.startsWith("og:") && !(key in og)) og[key] = clean(content);
        if (key === "description" && description === null) description = clean(content);
      },
    })
    .on("title", {
      text(chunk) {
        title += chunk.text;
      },
    });
  await rewriter.transform(page).arrayBuffer();
  const imageUrl = og["og:image:url"] ?? og["og:image:secure_url"] ?? og["og:image"];
  for (const key of Object.keys(og)) if (key.startsWith("og:image")) delete og[key];
  if (!og["og:title"] && title.trim()) og["og:title"] = clean(title);
  if (!og["og:description"] && description) og["og:description"] = description;
  return imageUrl ? { ...og, imageUrl } : og;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** Decodes HTML character references (the rewriter hands them over raw), collapses whitespace, caps the length. */
function clean(raw: string): string {
  const decoded = raw.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
  return decoded.replace(/\s+/g, " ").trim().slice(0, MAX_VALUE_CHARS);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
