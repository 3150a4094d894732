/**
 * Incremental Server-Sent Events framer (WHATWG HTML "event stream interpretation").
 *
 * The fault engine needs event boundaries on the hot path but field values only for the few
 * events it decides to touch, so framing works on bytes (indexOf on Buffers, no decoding) and
 * fields are parsed from `raw` on first access. Every byte fed in comes back out in exactly one
 * event's `raw`, which is what lets a transform drop, duplicate or rewrite single events while
 * leaving the rest of the wire untouched.
 */

import { CR, LF, SseEvent } from './sse-event.js';

export { SseEvent } from './sse-event.js';

const BOM = [0xef, 0xbb, 0xbf];
const NO_EVENTS: readonly SseEvent[] = Object.freeze([]);

export interface SseParserOptions {
  /**
   * Bytes one event may buffer before it is flushed in `incomplete` pieces, so an upstream that
   * never sends a blank line cannot grow memory without bound. Default 10 MiB, like
   * `limits.max_body_bytes`.
   */
  maxEventBytes?: number;
}

export class SseParser {
  readonly #max: number;
  #parts: Buffer[] = [];
  #partsLen = 0;
  /** No byte of the current line has been seen yet. */
  #lineEmpty = true;
  /** The current block has a non-blank line, so its next blank line dispatches it. */
  #hasContent = false;
  /** The last chunk ended in CR: a leading LF in the next one is the same line break. */
  #afterCr = false;
  /** That CR was a dispatching blank line; the event waits for the possible LF. */
  #held = false;
  #bomMatched = 0;
  #bomChecking = true;
  #firstEvent = true;
  /** An event outgrew `maxEventBytes`; its remaining pieces are flushed as they arrive. */
  #overflow = false;

  constructor(options: SseParserOptions = {}) {
    this.#max = options.maxEventBytes ?? 10 * 1024 * 1024;
  }

  /** Parses a whole body at once, tail included. */
  static parseAll(body: Uint8Array): SseEvent[] {
    const parser = new SseParser({ maxEventBytes: Number.POSITIVE_INFINITY });
    const events = [...parser.push(body)];
    const tail = parser.end();
    if (tail) events.push(tail);
    return events;
  }

  /** Feeds one chunk; returns the events it completed (a shared frozen array when none). */
  push(chunk: Uint8Array): readonly SseEvent[] {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    if (len === 0) return NO_EVENTS;
    let out: SseEvent[] | undefined;
    let pos = 0;
    let start = 0;
    if (this.#afterCr) {
      this.#afterCr = false;
      if (buf[0] === LF) pos = 1;
      if (this.#held) {
        this.#held = false;
        out = [this.#emit(buf, 0, pos)];
        start = pos;
      }
    }
    if (this.#bomChecking) pos = this.#skipBom(buf, pos);
    // Cached terminator positions: a stream without CR pays one CR search per chunk, not per line.
    let lf = -2;
    let cr = -2;
    while (pos < len) {
      let t = pos;
      const c = buf[pos];
      // Most lines that start with a terminator are an event's blank line: no native call.
      if (c !== LF && c !== CR) {
        if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
        if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
        t = lf === -1 ? cr : cr === -1 || lf < cr ? lf : cr;
      }
      if (t === -1) {
        this.#lineEmpty = false;
        this.#hasContent = true;
        break;
      }
      const blank = t === pos && this.#lineEmpty;
      if (!blank) this.#hasContent = true;
      if (buf[t] === LF) pos = t + 1;
      else if (t + 1 < len) pos = buf[t + 1] === LF ? t + 2 : t + 1;
      else {
        pos = len;
        this.#afterCr = true;
      }
      this.#lineEmpty = true;
      if (!blank || !this.#hasContent) continue;
      if (this.#afterCr) {
        this.#held = true;
        break;
      }
      const event = this.#emit(buf, start, pos);
      if (out) out.push(event);
      else out = [event];
      start = pos;
    }
    if (start < len) out = this.#keep(buf, start, out);
    return out ?? NO_EVENTS;
  }

  /**
   * Ends the stream: returns the event still waiting for a possible LF, or the bytes of an
   * unterminated block flagged `incomplete`, so nothing fed in is lost. Resets the parser.
   */
  end(): SseEvent | undefined {
    let tail: SseEvent | undefined;
    if (this.#held) tail = this.#emit(Buffer.alloc(0), 0, 0);
    else if (this.#partsLen > 0) tail = this.#fragment();
    this.#reset();
    return tail;
  }

  #emit(buf: Buffer, start: number, end: number): SseEvent {
    const raw = this.#partsLen === 0 ? buf.subarray(start, end) : this.#joined(buf.subarray(start, end));
    const event = new SseEvent(raw, this.#overflow, this.#firstEvent ? this.#bomLength() : 0);
    this.#firstEvent = false;
    this.#overflow = false;
    this.#hasContent = false;
    return event;
  }

  /** Flushes the pending bytes of an unfinished block without touching the line state. */
  #fragment(): SseEvent {
    const raw = this.#joined(undefined);
    const event = new SseEvent(raw, true, this.#firstEvent ? this.#bomLength() : 0);
    this.#firstEvent = false;
    return event;
  }

  #keep(buf: Buffer, start: number, out: SseEvent[] | undefined): SseEvent[] | undefined {
    const rest = start === 0 ? buf : buf.subarray(start);
    this.#parts.push(rest);
    this.#partsLen += rest.length;
    if (this.#partsLen <= this.#max || this.#held) return out;
    // Pass the oversized event through in pieces; its final piece is flagged when it completes.
    const piece = this.#fragment();
    this.#overflow = true;
    if (!out) return [piece];
    out.push(piece);
    return out;
  }

  #joined(last: Buffer | undefined): Buffer {
    if (last !== undefined && last.length > 0) {
      this.#parts.push(last);
      this.#partsLen += last.length;
    }
    const raw = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partsLen);
    this.#parts = [];
    this.#partsLen = 0;
    return raw;
  }

  /** A UTF-8 BOM opens the stream at most once; it is not line content, but stays in `raw`. */
  #skipBom(buf: Buffer, pos: number): number {
    while (pos < buf.length) {
      if (buf[pos] !== BOM[this.#bomMatched]) {
        // Bytes that only looked like a BOM's start are line content after all.
        if (this.#bomMatched > 0) this.#lineEmpty = false;
        this.#bomChecking = false;
        this.#bomMatched = 0;
        return pos;
      }
      pos++;
      if (++this.#bomMatched === BOM.length) {
        this.#bomChecking = false;
        return pos;
      }
    }
    return pos;
  }

  #bomLength(): number {
    return this.#bomChecking ? 0 : this.#bomMatched;
  }

  #reset(): void {
    this.#parts = [];
    this.#partsLen = 0;
    this.#lineEmpty = true;
    this.#hasContent = false;
    this.#afterCr = false;
    this.#held = false;
    this.#bomMatched = 0;
    this.#bomChecking = true;
    this.#firstEvent = true;
    this.#overflow = false;
  }
}
