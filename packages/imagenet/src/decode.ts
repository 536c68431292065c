/**
 * Decoding with sharp (libvips): any format libvips reads (JPEG, PNG, WebP, TIFF, GIF, ...; the content
 * decides, not the file name, so ImageNet's PNG-in-a-.JPEG decodes), converted to sRGB (CMYK JPEGs through
 * their profile or libvips' default one, greyscale replicated to RGB), alpha dropped (as PIL's
 * convert('RGB') does), 8 bits per channel. Then the paper's preprocessing: shorter side to `size`, centre
 * `crop` × `crop` (when the margin is odd the window starts at ⌈margin / 2⌉, as libvips' one-pass crop does).
 * EXIF orientation is not applied (as torchvision/PIL do not).
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { crop as cropImage, type ImageU8 } from '@convnet/augment';
import { DataError } from './errors.js';

export interface DecodeOptions {
  /** Shorter side after resizing (default 256). */
  size?: number;
  /** Side of the centre square crop (default = size); false keeps the whole resized image. */
  crop?: number | false;
  /** 3 (RGB, default) or 1 (greyscale). */
  channels?: 3 | 1;
  /** When libvips should give up: 'truncated' (default: truncated files fail, mere warnings pass), 'error', 'warning', 'none'. */
  failOn?: 'none' | 'truncated' | 'error' | 'warning';
  /** Resampling kernel (sharp's names; default 'lanczos3'). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
}

/** Decodes bytes (or a file) into a uint8 HWC image, resized and centre-cropped as configured. */
export async function decodeImage(input: Uint8Array | string, opts: DecodeOptions = {}): Promise<ImageU8> {
  const path = typeof input === 'string' ? input : undefined;
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new DataError(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path);
    }
  } else bytes = input;
  if (bytes.length === 0) throw new DataError('empty file (0 bytes)', path);
  const size = opts.size ?? 256;
  const crop = opts.crop === false ? 0 : opts.crop ?? size;
  const channels = opts.channels ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new DataError(`decode size must be a positive integer, got ${size}`);
  if (crop > size) throw new DataError(`decode crop ${crop} is larger than the resized shorter side ${size}`);
  try {
    let img = sharp(bytes, { failOn: opts.failOn ?? 'truncated', sequentialRead: true }).removeAlpha();
    img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
    const kernel = opts.kernel ?? 'lanczos3';
    // One pass (resize + centre crop) when the crop is the whole shorter side; otherwise resize, then crop here.
    img = crop === size
      ? img.resize(size, size, { fit: 'cover', position: 'centre', kernel })
      : img.resize(size, size, { fit: 'outside', kernel });
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      // libvips keeps 1 band for some greyscale inputs, or 2 (grey + alpha) before removeAlpha: normalise here.
      return fixChannels(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.height, info.width, info.channels, channels, crop);
    }
    const out: ImageU8 = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width, channels };
    return crop && crop !== size ? centreSquare(out, crop) : out;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot decode: ${(e as Error).message.split('\n')[0]}`, path);
  }
}

function fixChannels(data: Uint8Array, h: number, w: number, from: number, to: number, crop: number): ImageU8 {
  const out = new Uint8Array(h * w * to);
  for (let i = 0; i < h * w; i++)
    for (let c = 0; c < to; c++) out[i * to + c] = data[i * from + (from === 1 ? 0 : Math.min(c, from - 1))];
  const img = { data: out, height: h, width: w, channels: to };
  return crop && (h !== crop || w !== crop) ? centreSquare(img, crop) : img;
}

/**
 * The centre crop × crop window, placed as libvips places its one-pass 'centre' crop: when the margin is odd
 * the window starts half a pixel later (offset ⌈margin / 2⌉), so every decode path gives the same pixels.
 */
function centreSquare(img: ImageU8, crop: number): ImageU8 {
  return cropImage(img, Math.ceil((img.height - crop) / 2), Math.ceil((img.width - crop) / 2), crop, crop);
}

/** Encodes a uint8 HWC image as JPEG (quality default 90, 4:4:4 chroma so colour edges survive). */
export async function encodeJpeg(img: ImageU8, quality = 90): Promise<Uint8Array> {
  const buf = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 } })
    .jpeg({ quality, chromaSubsampling: '4:4:4' })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
