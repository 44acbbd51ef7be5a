/**
 * Thumbnails are made inside the Worker with Photon (@cf-wasm/photon, pinned): one ~1.5 MB Rust/wasm module,
 * packaged for workerd (it imports its .wasm the way wrangler and the vitest pool bundle it, no fetch at start),
 * that decodes PNG, JPEG, GIF and WebP, resizes and crops, and encodes PNG and JPEG. The @jsquash packages need a
 * module per codec plus a separate resizer; wasm-vips/ImageMagick builds are too large for a Worker.
 * Cost: a whole decode holds about 11 bytes of wasm memory per pixel (134 MB measured for 12 MP) and wasm memory
 * never shrinks, so MEDIA_THUMBNAIL_MAX_PIXELS keeps PNG, GIF and WebP decodes well inside the Worker's 128 MB.
 * JPEGs (camera photos) are decoded at reduced scale by libjpeg-turbo instead (jpeg-decode.ts), which needs far less
 * for sequential JPEGs, held to their own limit, MEDIA_THUMBNAIL_MAX_JPEG_PIXELS (progressive ones need up to 6 bytes
 * a pixel and keep the whole-decode limit). Photon then only resizes, crops and encodes the small image.
 * It is imported on first use, so isolates that never make a thumbnail never instantiate it.
 */
import type { PhotonImage } from "@cf-wasm/photon";
import { MatrixError } from "../http/errors";
import { type ImageInfo, readImageInfo } from "./image-size";
import { type Region, type Size, decodeJpeg, jpegScaleFor } from "./jpeg-decode";

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

export interface PixelLimits {
  /** Images whose decoder holds the whole image: PNG, GIF, WebP, and progressive (multi-scan) JPEGs. */
  maxPixels: number;
  /** Sequential JPEGs, decoded at reduced scale. */
  maxJpegPixels: number;
}

/** Checks the header before decoding: unknown formats are a 400, images over their kind's pixel limit a 413. */
export function inspectImage(bytes: Uint8Array, limits: PixelLimits): ImageInfo {
  const info = readImageInfo(bytes);
  if (!info || info.width === 0 || info.height === 0) throw cannotThumbnail();
  const limit = info.format === "jpeg" && !info.multiScan ? limits.maxJpegPixels : limits.maxPixels;
  if (info.width * info.height > limit) throw tooLargeToThumbnail();
  return info;
}

/** How a thumbnail is made from the source: resized (to `resize`), then cut (to `crop`). */
export interface ThumbnailPlan {
  resize: Size | null;
  crop: Region | null;
}

/**
 * The plan for a thumbnail of a `source`-sized image, or null when the image is already no larger than asked.
 * `scale` fits the box keeping the aspect; `crop` scales to cover the box, then cuts the middle out (a source
 * smaller than the box is only cut, never enlarged).
 */
export function thumbnailPlan(source: Size, spec: ThumbnailSpec): ThumbnailPlan | null {
  if (spec.method === "scale") {
    const size = scaledSize(source, spec);
    return size && { resize: size, crop: null };
  }
  const ratio = Math.max(spec.width / source.width, spec.height / source.height);
  const resize = ratio < 1 ? { width: Math.max(spec.width, Math.round(source.width * ratio)), height: Math.max(spec.height, Math.round(source.height * ratio)) } : null;
  const covering = resize ?? source;
  const width = Math.min(spec.width, covering.width);
  const height = Math.min(spec.height, covering.height);
  if (!resize && width === source.width && height === source.height) return null;
  return { resize, crop: { x: Math.floor((covering.width - width) / 2), y: Math.floor((covering.height - height) / 2), width, height } };
}

/**
 * Renders a thumbnail, or returns null when the image is already no larger than asked (the spec says to serve the
 * original then, and never to upscale). JPEG sources give JPEG thumbnails; others give PNG, keeping transparency.
 */
export async function renderThumbnail(bytes: Uint8Array, info: ImageInfo, spec: ThumbnailSpec, limits: PixelLimits): Promise<Thumbnail | null> {
  const plan = thumbnailPlan(info, spec);
  if (!plan) return null;
  // A JPEG that is only cut cannot be decoded at reduced scale: it is a whole decode, held to that limit.
  if (info.format === "jpeg" && !plan.resize && info.width * info.height > limits.maxPixels) throw tooLargeToThumbnail();
  const photon = await import("@cf-wasm/photon");
  // wasm memory is not garbage-collected: every image must be freed, or the isolate grows with each thumbnail.
  const images: PhotonImage[] = [];
  try {
    const { image: source, cropped } = decodeSource(photon, bytes, info, plan, limits.maxPixels);
    images.push(source);
    let result = source;
    if (plan.resize) {
      result = photon.resize(result, plan.resize.width, plan.resize.height, photon.SamplingFilter.Triangle);
      images.push(result);
    }
    if (plan.crop && !cropped) {
      const { x, y, width, height } = plan.crop;
      result = photon.crop(result, x, y, x + width, y + height);
      images.push(result);
    }
    return info.format === "jpeg"
      ? { bytes: result.get_bytes_jpeg(82), contentType: "image/jpeg" }
      : { bytes: result.get_bytes(), contentType: "image/png" };
  } finally {
    for (const image of images) image.free();
  }
}

type Photon = typeof import("@cf-wasm/photon");

/**
 * The image to resize and crop. A JPEG is decoded at the smallest DCT scale that still covers the resize target
 * (or, when it is only cut, just the part kept); other formats are decoded whole by Photon, and so are JPEGs
 * libjpeg-turbo cannot turn into RGB (CMYK ones) when they are within the whole-decode limit.
 */
function decodeSource(photon: Photon, bytes: Uint8Array, info: ImageInfo, plan: ThumbnailPlan, maxPixels: number): { image: PhotonImage; cropped: boolean } {
  if (info.format === "jpeg") {
    try {
      const decoded = plan.resize ? decodeJpeg(bytes, info, jpegScaleFor(info, plan.resize)) : decodeJpeg(bytes, info, 8, plan.crop ?? undefined);
      return { image: new photon.PhotonImage(decoded.pixels, decoded.width, decoded.height), cropped: !plan.resize };
    } catch {
      if (info.width * info.height > maxPixels) throw cannotThumbnail();
    }
  }
  try {
    return { image: photon.PhotonImage.new_from_byteslice(bytes), cropped: false };
  } catch {
    throw cannotThumbnail();
  }
}
