import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from '../../src/stream/sse-parser.js';
import { SeededRng } from '../../src/chaos/rng.js';

/** Deterministic PRNG so a failing split can be replayed from its seed. */
/** The project's seeded PRNG (mulberry32) as a plain function. */
function mulberry32(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

const WORDS = 'Hello| world|😀| 你好|世界|é| naïve|🚀🔥|"quoted"|\\n| |:|𝄞'.split('|');
const text = (rng: Rng): string => Array.from({ length: int(rng, 0, 6) }, () => pick(rng, WORDS)).join('');

/** One event block as a list of lines (without terminators). */
function block(rng: Rng): string[] {
  const content = JSON.stringify(text(rng));
  switch (int(rng, 0, 8)) {
    case 0:
      return [`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":${content}}}]}`];
    case 1:
      return [
        'event: content_block_delta',
        `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${content}}}`,
      ];
    case 2:
      return [
        'event: response.output_text.delta',
        `data: {"type":"response.output_text.delta","delta":${content}}`,
      ];
    case 3:
      return [pick(rng, [': ping', ':', ': keep-alive 😀'])];
    case 4:
      return [`data: ${text(rng)}`, `data:${text(rng)}`, 'data', `data:  ${text(rng)}`];
    case 5:
      return [`id: ${int(rng, 0, 999)}`, `retry: ${pick(rng, ['1500', '15x', ''])}`, `data: ${text(rng)}`];
    case 6:
      return [': comment first', `event:${text(rng)}`, 'event', `data: ${text(rng)}`, 'unknown: field'];
    case 7:
      return ['data: [DONE]'];
    default:
      return ['event: message_stop', 'data: {"type":"message_stop"}'];
  }
}

const BOMS = [[0xef, 0xbb, 0xbf], [0xef, 0xbb, 0xbf], [0xef, 0xbb], [0xef]];

function randomStream(rng: Rng): Buffer {
  const eol = (): string => pick(rng, ['\n', '\n', '\n', '\r\n', '\r\n', '\r']);
  // A whole BOM, or a prefix of one that the parser must give back as content.
  const bom = rng() < 0.2 ? Buffer.from(pick(rng, BOMS)) : Buffer.alloc(0);
  let s = rng() < 0.5 ? '' : eol();
  const blocks = int(rng, 0, 12);
  for (let b = 0; b < blocks; b++) {
    if (rng() < 0.1) s += eol();
    for (const line of block(rng)) s += line + eol();
    s += eol();
  }
  if (rng() < 0.3) s += pick(rng, ['data: {"partial":', 'data: x\n', 'event: e\r', ': c', '\n']);
  return Buffer.concat([bom, Buffer.from(s)]);
}

function randomSplit(rng: Rng, input: Buffer): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const maxChunk = pick(rng, [1, 2, 3, 7, 32, 300, input.length + 1]);
  for (let pos = 0; pos < input.length; ) {
    const n = int(rng, rng() < 0.05 ? 0 : 1, maxChunk);
    const piece = input.subarray(pos, pos + n);
    // Plain Uint8Arrays too: the parser must not rely on Buffer-only callers.
    chunks.push(rng() < 0.3 ? new Uint8Array(piece) : piece);
    pos += n;
  }
  return chunks;
}

function feed(chunks: Uint8Array[], parser = new SseParser()): SseEvent[] {
  const events = chunks.flatMap((c) => [...parser.push(c)]);
  const tail = parser.end();
  if (tail) events.push(tail);
  return events;
}

const view = (e: SseEvent) => ({
  raw: e.raw.toString('latin1'),
  incomplete: e.incomplete,
  event: e.event,
  data: e.data,
  hasData: e.hasData,
  head: e.dataHead(5),
  id: e.id,
  retry: e.retry,
  comment: e.comment,
});

/** Straight transcription of the WHATWG algorithm on a decoded string: the oracle. */
function reference(input: string): { type: string; data: string }[] {
  const out: { type: string; data: string }[] = [];
  let type = '';
  let data = '';
  const lines = input.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.pop(); // an unterminated last line is never processed
  for (const line of lines) {
    if (line === '') {
      if (data !== '') out.push({ type: type || 'message', data: data.slice(0, -1) });
      type = '';
      data = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') type = value;
    if (name === 'data') data += `${value}\n`;
  }
  return out;
}

describe('SseParser property: random streams, random splits', () => {
  it('reproduces the input byte for byte and parses like the unsplit stream and the spec', () => {
    for (let seed = 1; seed <= 600; seed++) {
      const rng = mulberry32(seed);
      const input = randomStream(rng);
      const whole = feed([input]).map(view);
      const dispatched = whole.filter((e) => !e.incomplete && e.data !== undefined);
      expect(
        dispatched.map((e) => ({ type: e.event ?? 'message', data: e.data })),
        `seed ${seed}`,
      ).toEqual(reference(input.toString('utf8')));
      for (let split = 0; split < 8; split++) {
        const events = feed(randomSplit(rng, input));
        expect(Buffer.concat(events.map((e) => e.raw)).equals(input), `seed ${seed}/${split}`).toBe(true);
        expect(events.map(view), `seed ${seed}/${split}`).toEqual(whole);
      }
    }
  });

  it('keeps every byte and bounds memory when events outgrow maxEventBytes', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = mulberry32(seed);
      const input = randomStream(rng);
      const whole = feed([input]).map((e) => JSON.stringify(view(e)));
      const parser = new SseParser({ maxEventBytes: int(rng, 1, 64) });
      const events = feed(randomSplit(rng, input), parser);
      expect(Buffer.concat(events.map((e) => e.raw)).equals(input), `seed ${seed}`).toBe(true);
      for (const e of events) {
        expect(e.raw.length, `seed ${seed}`).toBeGreaterThan(0);
        // Only pieces of oversized events may differ from the unbounded parse.
        if (!e.incomplete) expect(whole, `seed ${seed}`).toContain(JSON.stringify(view(e)));
      }
    }
  });

  it('agrees with the unsplit parse for every two-way split of a mixed stream', () => {
    const input = Buffer.from('\uFEFFdata: a\r\rdata: 😀\r\n\r\n: c\n\nevent: x\rdata:b\r\r\ndata: 你\n\n\r');
    const whole = feed([input]).map(view);
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const events = feed([input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
        expect(events.map(view), `cut ${i},${j}`).toEqual(whole);
      }
    }
  });
});

const parse = (s: string) => SseParser.parseAll(Buffer.from(s));

describe('SseParser spec behaviour', () => {
  it('removes exactly one leading space after the colon', () => {
    expect(parse('data:x\n\ndata: x\n\ndata:  x\n\n').map((e) => e.data)).toEqual(['x', 'x', ' x']);
  });

  it('decodes only the head of data on request, and knows it has data without decoding', () => {
    const [e, ping] = parse('data: 😀 long payload\n\n: ping\n\n');
    expect([e!.hasData, e!.dataHead(3), e!.dataHead(6), e!.dataHead(100)]).toEqual([
      true,
      '\uFFFD',
      '😀 l',
      '😀 long payload',
    ]);
    expect([ping!.hasData, ping!.dataHead(6)]).toEqual([false, undefined]);
  });

  it('joins multiple data lines with \\n', () => {
    const [e] = parse('data: a\ndata:\ndata: b\n\n');
    expect(e!.data).toBe('a\n\nb');
  });

  it('treats a line without colon as the field name with an empty value', () => {
    const [e] = parse('event\ndata\n\n');
    expect(e!.data).toBe('');
    expect(e!.event).toBeUndefined();
  });

  it('flags comment-only blocks and ignores comments among fields', () => {
    const [ping, ev] = parse(': ping\n:\n\n: note\nevent: e\ndata: d\n\n');
    expect(ping!.comment).toBe(true);
    expect(ping!.data).toBeUndefined();
    expect(ev!.comment).toBe(false);
    expect([ev!.event, ev!.data]).toEqual(['e', 'd']);
  });

  it('parses id and retry, ignoring an id with NUL and a non-numeric retry', () => {
    const [a, b] = parse('id: 7\nretry: 1500\ndata: x\n\nid: a\0b\nretry: 1.5\ndata: y\n\n');
    expect([a!.id, a!.retry]).toEqual(['7', 1500]);
    expect([b!.id, b!.retry]).toEqual([undefined, undefined]);
  });

  it('handles a CRLF split across chunks without seeing a blank line', () => {
    const p = new SseParser();
    expect(p.push(Buffer.from('data: a\r'))).toEqual([]);
    expect(p.push(Buffer.from('\ndata: b\r'))).toEqual([]);
    const [e] = p.push(Buffer.from('\n\r\n'));
    expect(e!.raw.toString()).toBe('data: a\r\ndata: b\r\n\r\n');
    expect(e!.data).toBe('a\nb');
  });

  it('waits for the LF that may follow a final CR, and does not wait past end()', () => {
    const p = new SseParser();
    expect(p.push(Buffer.from('data: a\r\r'))).toEqual([]);
    const [a, b] = p.push(Buffer.from('\ndata: b\r\r'));
    expect(a!.raw.toString()).toBe('data: a\r\r\n');
    expect(b).toBeUndefined();
    const tail = p.end()!;
    expect([tail.raw.toString(), tail.incomplete, tail.data]).toEqual(['data: b\r\r', false, 'b']);
  });

  it('ignores a BOM at stream start for parsing but keeps it in raw, even when split', () => {
    const p = new SseParser();
    const input = Buffer.from('\uFEFFdata: x\n\n\uFEFFdata: y\n\n');
    const events = [
      ...p.push(input.subarray(0, 1)),
      ...p.push(input.subarray(1, 2)),
      ...p.push(input.subarray(2)),
    ];
    expect(events[0]!.raw.equals(input.subarray(0, 12))).toBe(true);
    expect(events[0]!.data).toBe('x');
    // Only the stream's first bytes may be a BOM; later it is part of a (unknown) field name.
    expect(events[1]!.data).toBeUndefined();
  });

  it('gives back a BOM prefix that turns out not to be one as line content', () => {
    const events = SseParser.parseAll(Buffer.from([0xef, 0xbb, 0x0a, 0x0a, ...Buffer.from('data: x\n\n')]));
    expect(events.map((e) => [e.raw.length, e.data])).toEqual([
      [4, undefined],
      [9, 'x'],
    ]);
  });

  it('decodes multibyte UTF-8 split mid-sequence', () => {
    const input = Buffer.from('data: 😀你好\n\n');
    const p = new SseParser();
    const events = [...input].flatMap((byte) => [...p.push(Uint8Array.of(byte))]);
    expect(events.map((e) => e.data)).toEqual(['😀你好']);
  });

  it('attaches stray blank lines to the next event', () => {
    const events = parse('\n\r\ndata: a\n\n\n\ndata: b\n\n');
    expect(events.map((e) => [e.raw.toString(), e.data])).toEqual([
      ['\n\r\ndata: a\n\n', 'a'],
      ['\n\ndata: b\n\n', 'b'],
    ]);
  });

  it('returns the unterminated tail from end() flagged incomplete', () => {
    const p = new SseParser();
    expect(p.push(Buffer.from('data: a\n\ndata: {"par'))).toHaveLength(1);
    const tail = p.end()!;
    expect([tail.raw.toString(), tail.incomplete, tail.data]).toEqual(['data: {"par', true, '{"par']);
    expect(p.end()).toBeUndefined();
  });

  it('emits events that share no state with later chunks', () => {
    const p = new SseParser();
    const [e] = p.push(Buffer.from('data: 1\n\ndata: 2'));
    p.push(Buffer.from('\n\n'));
    expect(e!.raw.toString()).toBe('data: 1\n\n');
    expect(p.push(new Uint8Array(0))).toEqual([]);
  });
});
