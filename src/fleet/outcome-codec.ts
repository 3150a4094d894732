import type { ExchangeOutcome } from '../observe/outcome.js';

/**
 * The outcome stream's entry format, version 2 (docs/fleet.md "Entry format"). Version 1 (no
 * `v` field) carried a JSON array of outcome objects in `o`; JSON.stringify of every exchange
 * was most of fleet mode's cost on the request path, and its ~280 bytes per exchange most of
 * Redis's. Version 2 writes each exchange at record time as one line of numbers into the
 * entry's byte buffer, so no outcome object outlives its request and no JSON is built per
 * exchange:
 *
 *   agent,tenant,tool,method,path,bodyKey,start,duration,status,flags,retryAfterMs,trace[,injected…]\n
 *
 * - strings (agent … bodyKey, trace, each injected type) are indexes into the entry's
 *   dictionary `d` (a JSON array of the distinct strings, in first-use order);
 * - `start` is (startedAt − b) × 4096 and `duration` (endedAt − startedAt) × 4096, as integers:
 *   epoch milliseconds are multiples of 2⁻¹² ms, so this is exact (checked per value; a value
 *   it would not reproduce bit for bit is written as `=` and its decimal text instead);
 * - `flags`: 1 success, 2 brokenByFault, 4 × (1 + index in FAILURES) the failure kind;
 * - `retryAfterMs` and `trace` are empty when absent.
 *
 * Entry fields: `v` "2", `i` instance, `n` exchanges, `b` the time base (decimal), `d` the
 * dictionary, `o` the lines.
 */
export const FORMAT = '2';

const FAILURES = ['status', 'transport', 'broken_body', 'client_abort'] as const;
const SCALE = 4096;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const EQUALS = 0x3d;
const ZERO = 0x30;
/** Bytes a line can take besides its injected types: 12 fields of at most 25 bytes. */
const LINE_ROOM = 12 * 26;
const INITIAL = 32 * 1024;

/** What an XADD of one entry carries (the writer's instance id added by the caller). */
export interface SealedEntry {
  n: number;
  b: string;
  d: string;
  o: Buffer;
}

/** Builds one stream entry, an exchange at a time (`add` runs on the request path). */
export class EntryWriter {
  /** Exchanges written. */
  rows = 0;
  private buf = Buffer.allocUnsafe(INITIAL);
  private pos = 0;
  private base = 0;
  private readonly ids = new Map<string, number>();
  private readonly words: string[] = [];
  /** Per string column, the previous line's string and its index. */
  private readonly last: (string | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ];
  private readonly lastId = [0, 0, 0, 0, 0, 0];

  add(o: ExchangeOutcome): void {
    const injected = o.injected;
    if (this.buf.length - this.pos < LINE_ROOM + injected.length * 12) this.grow(injected.length);
    if (this.rows++ === 0) this.base = o.startedAt;
    this.word(o.agent, 0);
    this.word(o.tenant, 1);
    this.word(o.tool, 2);
    this.word(o.method, 3);
    this.word(o.path, 4);
    this.word(o.bodyKey, 5);
    this.time(o.startedAt, this.base);
    this.time(o.endedAt, o.startedAt);
    this.num(o.status);
    this.int((o.success ? 1 : 0) | (o.brokenByFault ? 2 : 0) | (o.failure ? failureCode(o.failure) * 4 : 0));
    this.buf[this.pos++] = COMMA;
    if (o.retryAfterMs !== undefined) this.num(o.retryAfterMs);
    else this.buf[this.pos++] = COMMA;
    if (o.trace !== undefined) this.int(this.id(o.trace));
    for (let i = 0; i < injected.length; i++) {
      this.buf[this.pos++] = COMMA;
      this.int(this.id(injected[i]!));
    }
    this.buf[this.pos++] = NEWLINE;
  }

  /** The entry as sent. The writer is done with after this. */
  seal(): SealedEntry {
    return {
      n: this.rows,
      b: String(this.base),
      d: JSON.stringify(this.words),
      o: this.buf.subarray(0, this.pos),
    };
  }

  private id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.words.push(s) - 1;
      this.ids.set(s, id);
    }
    return id;
  }

  /**
   * A string column: the previous line's index when the string is the same (most lines of an
   * entry repeat their agent, tool, path), which skips hashing a string made for this request.
   */
  private word(s: string, column: number): void {
    let id: number;
    if (s === this.last[column]) id = this.lastId[column]!;
    else {
      id = this.id(s);
      this.last[column] = s;
      this.lastId[column] = id;
    }
    this.int(id);
    this.buf[this.pos++] = COMMA;
  }

  /** `t` relative to `from` in 2⁻¹² ms, or `=` and its decimal text when that is not exact. */
  private time(t: number, from: number): void {
    const x = (t - from) * SCALE;
    if (Number.isSafeInteger(x) && from + x / SCALE === t) this.int(x);
    else {
      this.buf[this.pos++] = EQUALS;
      this.pos += this.buf.write(String(t), this.pos, 'latin1');
    }
    this.buf[this.pos++] = COMMA;
  }

  /** Any number, exactly: an integer's digits, else its decimal text. */
  private num(v: number): void {
    if (Number.isSafeInteger(v)) this.int(v);
    else this.pos += this.buf.write(String(v), this.pos, 'latin1');
    this.buf[this.pos++] = COMMA;
  }

  /** A safe integer's decimal digits, without String(): this runs ~12 times per exchange. */
  private int(v: number): void {
    const buf = this.buf;
    if (v < 0) {
      buf[this.pos++] = MINUS;
      v = -v;
    }
    let digits = 1;
    for (let p = 10; p <= v; p *= 10) digits++;
    let at = this.pos + digits;
    this.pos = at;
    // Integer arithmetic while the value fits 31 bits (every index, status and most times).
    while (v > 0x7fffffff) {
      const d = v % 10;
      buf[--at] = ZERO + d;
      v = (v - d) / 10;
    }
    let n = v | 0;
    do {
      const q = (n / 10) | 0;
      buf[--at] = ZERO + n - q * 10;
      n = q;
    } while (n > 0);
  }

  private grow(injected: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + LINE_ROOM + injected * 12));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

function failureCode(kind: NonNullable<ExchangeOutcome['failure']>): number {
  return FAILURES.indexOf(kind) + 1;
}

/** The first `rows` exchanges of a sealed entry (a failed send put back into a fuller buffer). */
export function truncate(entry: SealedEntry, rows: number): SealedEntry {
  let end = 0;
  for (let seen = 0; seen < rows; seen++) end = entry.o.indexOf(NEWLINE, end) + 1;
  return { ...entry, n: rows, o: entry.o.subarray(0, end) };
}

/** An entry the reader cannot fold: a format it does not know, or a damaged one. */
export class EntryFormatError extends Error {}

/**
 * Appends the exchanges of one stream entry to `out`: version 2, or version 1 (a JSON array,
 * written by faultgate before format 2), so a report asked during a rolling upgrade folds
 * the exchanges of old and new instances alike. Throws EntryFormatError for anything else.
 */
export function decodeEntry(message: Record<string, string>, out: ExchangeOutcome[]): void {
  const v = message.v;
  if (v === undefined) {
    let batch: unknown;
    try {
      batch = JSON.parse(message.o ?? '');
    } catch {
      throw new EntryFormatError('not a JSON array (format 1)');
    }
    if (!Array.isArray(batch)) throw new EntryFormatError('not a JSON array (format 1)');
    for (const o of batch) out.push(o as ExchangeOutcome);
    return;
  }
  if (v !== FORMAT) throw new EntryFormatError(`format ${v} (this faultgate reads 1 and ${FORMAT})`);
  decodeV2(message, out);
}

function decodeV2(message: Record<string, string>, out: ExchangeOutcome[]): void {
  let words: unknown;
  try {
    words = JSON.parse(message.d ?? '');
  } catch {
    words = undefined;
  }
  const base = Number(message.b);
  const body = message.o;
  if (!Array.isArray(words) || message.b === undefined || body === undefined) {
    throw new EntryFormatError('a format 2 entry without its dictionary, time base or lines');
  }
  const word = (text: string | undefined): string => {
    const w = text ? words[Number(text)] : undefined;
    if (typeof w !== 'string') throw new EntryFormatError(`format 2: no dictionary word ${text}`);
    return w;
  };
  const kept = out.length;
  try {
    for (let at = 0; at < body.length; ) {
      let end = body.indexOf('\n', at);
      if (end < 0) end = body.length;
      out.push(decodeLine(body.slice(at, end).split(','), base, word));
      at = end + 1;
    }
  } catch (err) {
    out.length = kept;
    throw err;
  }
}

function decodeLine(c: string[], base: number, word: (text: string | undefined) => string): ExchangeOutcome {
  if (c.length < 12) throw new EntryFormatError(`format 2: a line of ${c.length} fields`);
  const startedAt = time(c[6]!, base);
  const flags = Number(c[9]);
  const o: ExchangeOutcome = {
    agent: word(c[0]),
    tenant: word(c[1]),
    tool: word(c[2]),
    method: word(c[3]),
    path: word(c[4]),
    bodyKey: word(c[5]),
    startedAt,
    endedAt: time(c[7]!, startedAt),
    status: Number(c[8]),
    success: (flags & 1) === 1,
    injected: c.length > 12 ? c.slice(12).map(word) : [],
    brokenByFault: (flags & 2) === 2,
  };
  const failure = flags >> 2;
  if (failure > 0) {
    const kind = FAILURES[failure - 1];
    if (!kind) throw new EntryFormatError(`format 2: failure kind ${failure}`);
    o.failure = kind;
  }
  if (c[10] !== '') o.retryAfterMs = Number(c[10]);
  if (c[11] !== '') o.trace = word(c[11]);
  return o;
}

function time(text: string, from: number): number {
  return text.charCodeAt(0) === EQUALS ? Number(text.slice(1)) : from + Number(text) / SCALE;
}
