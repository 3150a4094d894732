/**
 * One SSE event block and its fields, parsed from the exact bytes on first access. Framing
 * never decodes; the field pass decodes only short values and records where the data lines
 * are, so counting events or classifying them by their first bytes never pays for decoding
 * a long JSON payload.
 */

export const LF = 10;
export const CR = 13;
const COLON = 58;
const SPACE = 32;

interface Fields {
  event: string | undefined;
  id: string | undefined;
  retry: number | undefined;
  comment: boolean;
  /** Byte ranges of the data values, [start, end, start, end, ...]; empty when no data line. */
  dataRanges: number[];
  /** Decoded `data`, filled on first access. */
  data: string | undefined;
}

export class SseEvent {
  #fields: Fields | undefined;
  readonly #from: number;

  /**
   * @param raw exact bytes of the block, terminating blank line included. Leading stray blank
   *   lines (and the stream's BOM, for the first event) belong to the event that follows them.
   *   May share memory with the chunk it was fed in, so callers copy before mutating.
   * @param incomplete the stream ended (or `maxEventBytes` was hit) before the blank line.
   * @param from offset where field parsing starts: skips a UTF-8 BOM, which is kept in `raw`.
   */
  constructor(
    readonly raw: Buffer,
    readonly incomplete = false,
    from = 0,
  ) {
    this.#from = from;
  }

  /** `event:` field; undefined when absent or empty (the spec's default "message"). */
  get event(): string | undefined {
    return this.#parsed().event;
  }
  /** `data:` lines joined with `\n`; undefined when the block has no data line (not dispatched). */
  get data(): string | undefined {
    const f = this.#parsed();
    if (f.data === undefined && f.dataRanges.length > 0) f.data = decodeData(this.raw, f.dataRanges);
    return f.data;
  }
  /** The block has a data line, so a browser would dispatch it; nothing is decoded. */
  get hasData(): boolean {
    return this.#parsed().dataRanges.length > 0;
  }
  get id(): string | undefined {
    return this.#parsed().id;
  }
  get retry(): number | undefined {
    return this.#parsed().retry;
  }
  /** The block holds only `:` comment lines, typically a keep-alive. */
  get comment(): boolean {
    return this.#parsed().comment;
  }

  /**
   * The start of `data` for classifying an event without decoding all of it: the first
   * `maxBytes` bytes, or the whole of it when it is already decoded or spans lines. A multibyte
   * character cut at the limit decodes as U+FFFD.
   */
  dataHead(maxBytes: number): string | undefined {
    const f = this.#parsed();
    const r = f.dataRanges;
    if (r.length === 0) return undefined;
    if (f.data !== undefined || r.length > 2) return this.data;
    return this.raw.toString('utf8', r[0], Math.min(r[1]!, r[0]! + maxBytes));
  }

  #parsed(): Fields {
    this.#fields ??= parseFields(this.raw, this.#from);
    return this.#fields;
  }
}

/** One pass over the block's lines; only the short fields are decoded here. */
function parseFields(raw: Buffer, from: number): Fields {
  const f: Fields = {
    event: undefined,
    id: undefined,
    retry: undefined,
    comment: false,
    dataRanges: [],
    data: undefined,
  };
  const len = raw.length;
  let comments = 0;
  let others = 0;
  let cr = raw.indexOf(CR, from);
  let pos = from;
  while (pos < len) {
    const c = raw[pos];
    // Blank lines (leading strays, the terminator) are skipped without a native call.
    if (c === LF || c === CR) {
      pos += c === CR && raw[pos + 1] === LF ? 2 : 1;
      continue;
    }
    if (cr !== -1 && cr < pos) cr = raw.indexOf(CR, pos);
    let t = raw.indexOf(LF, pos);
    if (t === -1) t = len;
    if (cr !== -1 && cr < t) t = cr;
    if (c === COLON) comments++;
    else {
      others++;
      field(f, raw, pos, t);
    }
    pos = raw[t] === CR && raw[t + 1] === LF ? t + 2 : t + 1;
  }
  f.comment = comments > 0 && others === 0;
  return f;
}

function field(f: Fields, raw: Buffer, start: number, end: number): void {
  // Field names are short: a loop beats a native indexOf call that may also run past the line.
  let colon = start;
  while (colon < end && raw[colon] !== COLON) colon++;
  const nameLen = colon - start;
  let v = colon + 1;
  if (v < end && raw[v] === SPACE) v++;
  if (v > end) v = end;
  if (nameLen === 4 && named(raw, start, 'data')) {
    f.dataRanges.push(v, end);
  } else if (nameLen === 5 && named(raw, start, 'event')) {
    f.event = v < end ? raw.toString('utf8', v, end) : undefined;
  } else if (nameLen === 2 && named(raw, start, 'id')) {
    // The spec ignores an id holding NULL: it could not round-trip through Last-Event-ID.
    const nul = raw.indexOf(0, v);
    if (nul === -1 || nul >= end) f.id = raw.toString('utf8', v, end);
  } else if (nameLen === 5 && named(raw, start, 'retry')) {
    const value = raw.toString('latin1', v, end);
    if (/^[0-9]+$/.test(value)) f.retry = Number(value);
  }
}

function named(raw: Buffer, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (raw[start + i] !== name.charCodeAt(i)) return false;
  return true;
}

function decodeData(raw: Buffer, ranges: number[]): string {
  let data = raw.toString('utf8', ranges[0], ranges[1]);
  for (let i = 2; i < ranges.length; i += 2) data += `\n${raw.toString('utf8', ranges[i], ranges[i + 1])}`;
  return data;
}
