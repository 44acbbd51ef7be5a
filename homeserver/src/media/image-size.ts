export type ImageFormat = "png" | "jpeg" | "gif" | "webp";

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  /**
   * A JPEG whose decoder must hold every DCT coefficient of the image until the end: progressive, or with a first
   * scan that lacks some components.
   */
  multiScan?: true;
}

/**
 * Reads an image's format and pixel dimensions from its header, without decoding it, so images too large to
 * decode safely can be refused before any pixel memory is allocated. null when it is none of the four formats.
 */
export function readImageInfo(bytes: Uint8Array): ImageInfo | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (at: number, text: string) =>
    bytes.byteLength >= at + text.length && [...text].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));
  if (bytes.byteLength >= 24 && ascii(0, "\x89PNG\r\n\x1a\n") && ascii(12, "IHDR")) {
    return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.byteLength >= 10 && (ascii(0, "GIF87a") || ascii(0, "GIF89a"))) {
    return { format: "gif", width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (bytes.byteLength >= 30 && ascii(0, "RIFF") && ascii(8, "WEBP")) return readWebp(bytes, view);
  if (bytes.byteLength >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) return readJpeg(bytes, view);
  return null;
}

function readWebp(bytes: Uint8Array, view: DataView): ImageInfo | null {
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === "VP8X") {
    const width = 1 + (view.getUint16(24, true) | (bytes[26]! << 16));
    const height = 1 + (view.getUint16(27, true) | (bytes[29]! << 16));
    return { format: "webp", width, height };
  }
  if (chunk === "VP8L" && bytes[20] === 0x2f) {
    const bits = view.getUint32(21, true);
    return { format: "webp", width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (chunk === "VP8 ") {
    return { format: "webp", width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  return null;
}

/** Walks the JPEG markers to the first start-of-frame, which holds the dimensions, and on to the first scan. */
function readJpeg(bytes: Uint8Array, view: DataView): ImageInfo | null {
  let frame: { info: ImageInfo; components: number } | null = null;
  let offset = 2;
  while (offset + 9 <= bytes.byteLength) {
    if (bytes[offset] !== 0xff) break;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame && !frame) {
      const info: ImageInfo = { format: "jpeg", height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
      // SOF2, SOF6, SOF10 and SOF14 are the progressive processes.
      if ((marker & 0x03) === 0x02) info.multiScan = true;
      frame = { info, components: bytes[offset + 9]! };
    }
    if (marker === 0xda) {
      if (frame && bytes[offset + 4]! < frame.components) frame.info.multiScan = true;
      break;
    }
    offset += 2 + view.getUint16(offset + 2);
  }
  return frame?.info ?? null;
}
