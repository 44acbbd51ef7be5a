/**
 * JPEG decoding at reduced scale, with libjpeg-turbo's TurboJPEG API compiled to wasm (@cwasm/jpeg-turbo, pinned:
 * a 139 KB module that exports malloc/free and the decompressor, nothing else). JPEG's DCT lets the decoder make
 * 1/8, 2/8 ... 8/8 of the image directly, so a 12-MP photo thumbnailed to 320x240 is decoded as 500x375: a
 * sequential JPEG then needs little more than its own size of wasm memory (measured: 6 MB for a 5 MB 12-MP photo),
 * where a whole decode needs 4 bytes a pixel and more. Progressive (and multi-scan) JPEGs are the exception:
 * libjpeg keeps every DCT coefficient of the image until the last scan, 2 bytes each, so up to 6 bytes a pixel
 * (measured: 78 MB for a 12-MP 4:4:4 progressive JPEG) whatever the scale; callers hold those to the whole-decode
 * pixel limit.
 * One instance serves every decode of the isolate and frees what each decode allocated, so its memory is the
 * largest decode so far (wasm memory never shrinks; a fresh instance per decode would leave each one's memory to
 * the garbage collector's timing). A decode that stops halfway (libjpeg's longjmp on corrupt data, raised here as
 * an exception, which skips the C code's cleanup) discards the instance instead.
 */
import jpegTurbo from "@cwasm/jpeg-turbo/jpeg-turbo.wasm";

/** The isolate's decoder, made on first use. */
let decoder: TurboJpeg | null = null;

/** TurboJPEG's TJPF_RGBA: 4 bytes a pixel, the layout Photon images are made from. */
const TJPF_RGBA = 7;
/** WASI's EBADF: the decoder has no files; libjpeg's warnings to stderr go nowhere. */
const ERRNO_BADF = 8;

interface TurboJpeg {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(pointer: number): void;
  tjDestroy(handle: number): number;
  tjInitDecompress(): number;
  tjDecompressHeader3(handle: number, jpeg: number, size: number, width: number, height: number, subsampling: number, colorspace: number): number;
  tjDecompress2(handle: number, jpeg: number, size: number, out: number, width: number, pitch: number, height: number, format: number, flags: number): number;
}

export interface Size {
  width: number;
  height: number;
}

/** A rectangle of the decoded image to keep. */
export interface Region extends Size {
  x: number;
  y: number;
}

export interface DecodedJpeg extends Size {
  /** RGBA, row by row. */
  pixels: Uint8Array;
  /**
   * The decoder's wasm memory after this decode, in bytes: the most any decode of the isolate needed so far (the
   * JPEG, libjpeg's buffers and the output).
   */
  memoryBytes: number;
}

export class JpegDecodeError extends Error {
  /** Raised from inside the C code (libjpeg's longjmp), which then skipped its own cleanup. */
  constructor(
    message: string,
    readonly fromLongjmp = false,
  ) {
    super(message);
  }
}

/** The size libjpeg makes at `eighths`/8 scale (it rounds up). */
export function jpegScaledSize(source: Size, eighths: number): Size {
  return { width: Math.ceil((source.width * eighths) / 8), height: Math.ceil((source.height * eighths) / 8) };
}

/** The smallest scale, in eighths, whose output is at least `need` in both dimensions. */
export function jpegScaleFor(source: Size, need: Size): number {
  for (let eighths = 1; eighths < 8; eighths++) {
    const size = jpegScaledSize(source, eighths);
    if (size.width >= need.width && size.height >= need.height) return eighths;
  }
  return 8;
}

/**
 * Decodes `jpeg` (whose header says it is `source` large) at `eighths`/8 scale, keeping `region` of the scaled
 * image (all of it when absent). Throws JpegDecodeError when the data is not a JPEG libjpeg can decode.
 */
export function decodeJpeg(jpeg: Uint8Array, source: Size, eighths: number, region?: Region): DecodedJpeg {
  const api = (decoder ??= instantiate());
  const allocations: number[] = [];
  const malloc = (size: number) => {
    const pointer = api.malloc(size);
    if (!pointer) throw new JpegDecodeError("JPEG decode failed: out of memory");
    allocations.push(pointer);
    return pointer;
  };
  let handle = 0;
  try {
    const input = malloc(jpeg.byteLength);
    const header = malloc(16);
    handle = api.tjInitDecompress();
    if (!handle) throw new JpegDecodeError("JPEG decode failed: no decompressor");
    new Uint8Array(api.memory.buffer, input, jpeg.byteLength).set(jpeg);
    if (api.tjDecompressHeader3(handle, input, jpeg.byteLength, header, header + 4, header + 8, header + 12) !== 0) {
      throw new JpegDecodeError("JPEG decode failed: bad header");
    }
    const [width, height] = new Int32Array(api.memory.buffer, header, 2);
    // The size was checked against the limits from our own reading of the header: libjpeg must agree with it.
    if (width !== source.width || height !== source.height) throw new JpegDecodeError("JPEG decode failed: dimensions differ from the header");

    const scaled = jpegScaledSize(source, eighths);
    const pitch = scaled.width * 4;
    const output = malloc(pitch * scaled.height);
    // Non-zero also for data libjpeg only warned about (truncated or corrupt), which would decode to grey.
    if (api.tjDecompress2(handle, input, jpeg.byteLength, output, scaled.width, pitch, scaled.height, TJPF_RGBA, 0) !== 0) {
      throw new JpegDecodeError("JPEG decode failed: bad data");
    }
    const keep = region ?? { x: 0, y: 0, ...scaled };
    const heap = new Uint8Array(api.memory.buffer);
    const pixels = new Uint8Array(keep.width * keep.height * 4);
    for (let row = 0; row < keep.height; row++) {
      const from = output + (keep.y + row) * pitch + keep.x * 4;
      pixels.set(heap.subarray(from, from + keep.width * 4), row * keep.width * 4);
    }
    return { width: keep.width, height: keep.height, pixels, memoryBytes: api.memory.buffer.byteLength };
  } catch (err) {
    // Our own checks leave the C state consistent; an exception from inside the C code (a longjmp, a trap) does not.
    if (!(err instanceof JpegDecodeError) || err.fromLongjmp) decoder = null;
    throw err instanceof JpegDecodeError ? err : new JpegDecodeError(`JPEG decode failed: ${String(err)}`);
  } finally {
    if (decoder === api) {
      if (handle) api.tjDestroy(handle);
      for (const pointer of allocations) api.free(pointer);
    }
  }
}

function instantiate(): TurboJpeg {
  let memory: WebAssembly.Memory | undefined;
  const instance = new WebAssembly.Instance(jpegTurbo, {
    env: {
      // TurboJPEG sets a jump point before decoding and libjpeg jumps to it on an error: the jump becomes an exception.
      setjmp: () => 0,
      longjmp: () => {
        throw new JpegDecodeError("JPEG decode failed: corrupt or unsupported data", true);
      },
    },
    wasi_snapshot_preview1: {
      environ_sizes_get: (count: number, size: number) => {
        const view = new DataView(memory!.buffer);
        view.setUint32(count, 0, true);
        view.setUint32(size, 0, true);
        return 0;
      },
      environ_get: () => 0,
      fd_write: () => ERRNO_BADF,
      fd_seek: () => ERRNO_BADF,
      fd_close: () => ERRNO_BADF,
      proc_exit: () => {
        throw new JpegDecodeError("JPEG decode failed: aborted", true);
      },
    },
  });
  const api = instance.exports as unknown as TurboJpeg;
  memory = api.memory;
  return api;
}
