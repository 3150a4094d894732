import { Transform, type TransformCallback } from 'node:stream';
import type { Rng } from '../types.js';
import { parseJson } from './buffered.js';

/** Characters that are never valid in JSON outside a string, and have no meaning inside one. */
const STRAY = [0x40, 0x23, 0x27, 0x3b]; // @ # ' ;
/** Bytes that are never valid anywhere in UTF-8 (RFC 3629 section 1). */
export const INVALID_UTF8 = [0xff, 0xfe, 0xc0, 0xc1, 0xf8];

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
const isAlnum = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/**
 * A JSON text made invalid at the same length: the closing `}`, `]` or `"` of the top-level value
 * is dropped and a stray character inserted at a random position; a bare scalar gets one byte
 * replaced instead. Returns undefined when `body` is not JSON (nothing to break).
 */
export function breakJson(body: Buffer, rng: Rng): Buffer | undefined {
  if (parseJson(body) === undefined) return undefined;
  const out = Buffer.from(body);
  let last = out.length - 1;
  while (last > 0 && isSpace(out[last]!)) last--;
  const stray = rng.pick(STRAY);
  const closer = out[last];
  if (closer === 0x7d || closer === 0x5d || closer === 0x22) {
    // Shift [p, last) one byte right over the closer, then put the stray byte at p.
    const p = rng.int(0, last);
    out.copyWithin(p + 1, p, last);
    out[p] = stray;
  } else {
    out[rng.int(0, last)] = stray;
  }
  // Unreachable by construction (a container without its closer never parses); kept as a guard.
  if (parseJson(out) !== undefined) out[0] = STRAY[0]!;
  return out;
}

/** Replaces every byte with a random one; the length stays, so does any `content-length`. */
export function garbageStream(rng: Rng): Transform {
  let word = 0;
  let left = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const out = Buffer.allocUnsafe(chunk.length);
      for (let i = 0; i < out.length; i++) {
        if (left === 0) {
          word = Math.floor(rng.next() * 0x1_0000_0000);
          left = 4;
        }
        out[i] = word & 0xff;
        word >>>= 8;
        left--;
      }
      cb(null, out);
    },
  });
}

/**
 * Overwrites about one ASCII letter or digit in 36 (the first among the first eight) with a byte
 * that is never valid UTF-8, so JSON structure, whitespace and length survive while the text is
 * broken: strict decoders fail, lenient ones show U+FFFD. `onUntouched` hears of a body without letters.
 */
export function invalidUtf8Stream(rng: Rng, onUntouched: (reason: string) => void): Transform {
  let gap = rng.int(0, 7);
  let touched = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      let out: Buffer | undefined;
      for (let i = 0; i < chunk.length; i++) {
        if (!isAlnum(chunk[i]!)) continue;
        if (gap > 0) {
          gap--;
          continue;
        }
        out ??= Buffer.from(chunk); // the input chunk may be shared: never write into it
        out[i] = rng.pick(INVALID_UTF8);
        touched++;
        gap = rng.int(8, 64);
      }
      cb(null, out ?? chunk);
    },
    flush(cb: TransformCallback) {
      if (touched === 0) onUntouched('no text to corrupt');
      cb();
    },
  });
}
