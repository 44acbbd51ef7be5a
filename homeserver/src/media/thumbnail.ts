/**
 * Thumbnails are made inside the Worker with Photon (@cf-wasm/photon, pinned): one ~1.5 MB Rust/wasm module,
 * packaged for workerd (it imports its .wasm the way wrangler and the vitest pool bundle it, no fetch at start),
 * that decodes PNG, JPEG, GIF and WebP, resizes and crops, and encodes PNG and JPEG. The @jsquash packages need a
 * module per codec plus a separate resizer; wasm-vips/ImageMagick builds are too large for a Worker.
 * Cost: decoding holds about 11 bytes of wasm memory per pixel (134 MB measured for 12 MP) and wasm memory never
 * shrinks, so MEDIA_THUMBNAIL_MAX_PIXELS must keep a decode well inside the Worker's 128 MB. It is imported on
 * first use, so isolates that never make a thumbnail never instantiate it.
 */
import type { PhotonImage } from "@cf-wasm/photon";
import { MatrixError } from "../http/errors";
import { type ImageInfo, readImageInfo } from "./image-size";

export type ThumbnailMethod = "crop" | "scale";

export interface ThumbnailSpec {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** The sizes the spec recommends; a request is served from the smallest that covers it, so few variants exist. */
const RECOMMENDED: readonly ThumbnailSpec[] = [
  { width: 32, height: 32, method: "crop" },
  { width: 96, height: 96, method: "crop" },
  { width: 320, height: 240, method: "scale" },
  { width: 640, height: 480, method: "scale" },
  { width: 800, height: 600, method: "scale" },
];

/** Largest side of a thumbnail made for a request no recommended size covers. */
export const MAX_THUMBNAIL_SIDE = 1600;

/**
 * The thumbnail to make for a request: the smallest recommended size of the same method at least as large, or the
 * requested size itself when none is (never smaller than asked, as the spec requires).
 */
export function chooseThumbnail(requested: ThumbnailSpec): ThumbnailSpec {
  const covering = RECOMMENDED.filter((s) => s.method === requested.method && s.width >= requested.width && s.height >= requested.height);
  return covering[0] ?? requested;
}

/** Output size of `scale`: the largest size of the source's aspect that fits the box, or null to serve the original. */
export function scaledSize(source: { width: number; height: number }, box: { width: number; height: number }): { width: number; height: number } | null {
  const ratio = Math.min(box.width / source.width, box.height / source.height);
  if (ratio >= 1) return null;
  return { width: Math.max(1, Math.round(source.width * ratio)), height: Math.max(1, Math.round(source.height * ratio)) };
}

export interface Thumbnail {
  bytes: Uint8Array;
  contentType: "image/png" | "image/jpeg";
}

export const cannotThumbnail = () => new MatrixError(400, "M_UNKNOWN", "Cannot generate thumbnails for the requested content");
export const tooLargeToThumbnail = () => new MatrixError(413, "M_TOO_LARGE", "Content is too large to thumbnail");

/** Checks the header before decoding: unknown formats are a 400, images over `maxPixels` a 413. */
export function inspectImage(bytes: Uint8Array, maxPixels: number): ImageInfo {
  const info = readImageInfo(bytes);
  if (!info || info.width === 0 || info.height === 0) throw cannotThumbnail();
  if (info.width * info.height > maxPixels) throw tooLargeToThumbnail();
  return info;
}

/**
 * Renders a thumbnail, or returns null when the image is already no larger than asked (the spec says to serve the
 * original then, and never to upscale). JPEG sources give JPEG thumbnails; others give PNG, keeping transparency.
 */
export async function renderThumbnail(bytes: Uint8Array, info: ImageInfo, spec: ThumbnailSpec): Promise<Thumbnail | null> {
  const photon = await import("@cf-wasm/photon");
  let source: PhotonImage;
  try {
    source = photon.PhotonImage.new_from_byteslice(bytes);
  } catch {
    throw cannotThumbnail();
  }
  const images: PhotonImage[] = [source];
  try {
    const result = spec.method === "scale" ? scaleImage(photon, source, spec, images) : cropImage(photon, source, spec, images);
    if (!result) return null;
    return info.format === "jpeg"
      ? { bytes: result.get_bytes_jpeg(82), contentType: "image/jpeg" }
      : { bytes: result.get_bytes(), contentType: "image/png" };
  } finally {
    // wasm memory is not garbage-collected: every image must be freed, or the isolate grows with each thumbnail.
    for (const image of images) image.free();
  }
}

type Photon = typeof import("@cf-wasm/photon");

function scaleImage(photon: Photon, source: PhotonImage, spec: ThumbnailSpec, images: PhotonImage[]): PhotonImage | null {
  const size = scaledSize({ width: source.get_width(), height: source.get_height() }, spec);
  if (!size) return null;
  const scaled = photon.resize(source, size.width, size.height, photon.SamplingFilter.Triangle);
  images.push(scaled);
  return scaled;
}

/** Scales to cover the box, then cuts the middle out; a source smaller than the box is only cut, never enlarged. */
function cropImage(photon: Photon, source: PhotonImage, spec: ThumbnailSpec, images: PhotonImage[]): PhotonImage | null {
  const width = source.get_width();
  const height = source.get_height();
  const ratio = Math.max(spec.width / width, spec.height / height);
  let covering = source;
  if (ratio < 1) {
    const coverWidth = Math.max(spec.width, Math.round(width * ratio));
    const coverHeight = Math.max(spec.height, Math.round(height * ratio));
    covering = photon.resize(source, coverWidth, coverHeight, photon.SamplingFilter.Triangle);
    images.push(covering);
  }
  const cw = covering.get_width();
  const ch = covering.get_height();
  const outW = Math.min(spec.width, cw);
  const outH = Math.min(spec.height, ch);
  if (covering === source && outW === width && outH === height) return null;
  const x = Math.floor((cw - outW) / 2);
  const y = Math.floor((ch - outH) / 2);
  const cropped = photon.crop(covering, x, y, x + outW, y + outH);
  images.push(cropped);
  return cropped;
}
