import type { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/chaos/rng.js';
import { bufferedRewrite, parseJson } from '../../src/stream/buffered.js';
import { breakJson, garbageStream, INVALID_UTF8, invalidUtf8Stream } from '../../src/stream/corrupt.js';
import { type CutHooks, type CutPlan, cutStream } from '../../src/stream/cut.js';
import { isJsonObject, mergePatch } from '../../src/stream/json-merge-patch.js';
import { sliceSize, throttle } from '../../src/stream/throttle.js';

/** Deterministic PRNG for the test's own choices (the project's mulberry32), so a failing case replays from its seed. */
function mulberry32(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}
type R = () => number;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const CASES = 250;

function bytes(r: R, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = int(r, 0, 255);
  return out;
}

/** The body cut into 1..10 non-empty chunks at random places. */
function split(r: R, body: Buffer): Buffer[] {
  const cuts = new Set<number>();
  for (let k = int(r, 0, 9); k > 0 && body.length > 1; k--) cuts.add(int(r, 1, body.length - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), body.length];
  const chunks: Buffer[] = [];
  for (let i = 1; i < points.length; i++) chunks.push(body.subarray(points[i - 1], points[i]));
  return chunks.filter((c) => c.length > 0);
}

/** Writes the chunks, ends the input, and collects the output until it ends or `settled` resolves. */
async function drive(
  stream: Transform,
  chunks: Buffer[],
  settled?: Promise<void>,
): Promise<{ out: Buffer; ended: boolean }> {
  const out: Buffer[] = [];
  let ended = false;
  stream.on('data', (c: Buffer) => out.push(c));
  const end = new Promise<void>((resolve, reject) => {
    stream.on('end', () => {
      ended = true;
      resolve();
    });
    stream.on('error', reject);
  });
  for (const c of chunks) stream.write(c);
  stream.end();
  await Promise.race([end, settled ?? end]);
  await new Promise((r) => setImmediate(r));
  stream.destroy();
  return { out: Buffer.concat(out), ended };
}

function cut(plan: CutPlan, mode: CutHooks['mode']) {
  const untouched: string[] = [];
  let cuts = 0;
  let settle!: () => void;
  const settled = new Promise<void>((r) => (settle = r));
  const stream = cutStream({
    mode,
    plan: () => plan,
    onCut: () => {
      cuts++;
      settle();
    },
    onUntouched: (reason) => untouched.push(reason),
  });
  return { stream, settled, untouched, cuts: () => cuts };
}

describe('cutStream (truncate)', () => {
  it('keeps exactly the bytes before the cut under any chunking, in both modes', async () => {
    const r = mulberry32(1);
    for (let n = 0; n < CASES; n++) {
      const body = bytes(r, int(r, 0, 600));
      const at = int(r, 0, 700);
      const longer = at < body.length && r() < 0.5; // a declared length longer than the cut
      const mode = r() < 0.5 ? 'end' : 'hold';
      const c = cut({ kind: 'at', at, longer }, mode);
      const { out, ended } = await drive(c.stream, split(r, body), c.settled);
      const cutHappened = at < body.length;
      expect(out.equals(body.subarray(0, Math.min(at, body.length))), `case ${n}`).toBe(true);
      expect(c.cuts()).toBe(cutHappened ? 1 : 0);
      // hold: a cut message never ends (the connection is cut instead); end: it always ends.
      expect(ended).toBe(mode === 'end' || !cutHappened);
      expect(c.untouched).toEqual(cutHappened ? [] : ['body not longer than the cut']);
    }
  });

  it('cuts a fraction of a buffered body, and passes a body over the limit through whole', async () => {
    const r = mulberry32(2);
    for (let n = 0; n < CASES; n++) {
      const body = bytes(r, int(r, 0, 900));
      const fraction = r();
      const limit = int(r, 1, 1000);
      const mode = r() < 0.5 ? 'end' : 'hold';
      const c = cut({ kind: 'fraction', fraction, limit }, mode);
      const { out } = await drive(c.stream, split(r, body), c.settled);
      const at = Math.floor(fraction * body.length);
      if (body.length > limit) {
        expect(out.equals(body), `case ${n}`).toBe(true);
        expect(c.untouched).toEqual(['body over max_body_bytes']);
      } else {
        expect(out.equals(body.subarray(0, at)), `case ${n}`).toBe(true);
        expect(c.cuts()).toBe(at < body.length ? 1 : 0);
      }
    }
  });

  it('a plan of none passes everything and says why', async () => {
    const c = cut({ kind: 'none', reason: 'because' }, 'hold');
    const { out, ended } = await drive(c.stream, [Buffer.from('ab'), Buffer.from('cd')]);
    expect(out.toString()).toBe('abcd');
    expect(ended).toBe(true);
    expect(c.untouched).toEqual(['because']);
  });
});

describe('throttle (bandwidth)', () => {
  it('never changes the bytes and takes about size / rate on a virtual clock', async () => {
    const r = mulberry32(3);
    for (let n = 0; n < CASES; n++) {
      const body = bytes(r, int(r, 0, 5000));
      const rate = int(r, 20, 100_000);
      let t = 0;
      const clock = {
        now: () => t,
        sleep: async (ms: number) => {
          t += ms;
          return true;
        },
      };
      const { out, ended } = await drive(throttle(rate, clock), split(r, body));
      expect(out.equals(body), `case ${n}`).toBe(true);
      expect(ended).toBe(true);
      // The bucket starts with one slice; each chunk's last slice may be short.
      const ideal = (Math.max(0, body.length - sliceSize(rate)) * 1000) / rate;
      expect(t).toBeGreaterThanOrEqual(ideal - 1e-6);
      expect(t).toBeLessThanOrEqual((body.length * 1000) / rate + 1e-6);
    }
  });

  it('stops waiting and passes the rest through when the request ends', async () => {
    let calls = 0;
    const clock = {
      now: () => 0,
      sleep: async () => {
        calls++;
        return false;
      },
    };
    const body = Buffer.alloc(1000, 7);
    const { out } = await drive(throttle(100, clock), [body]);
    expect(out.equals(body)).toBe(true);
    expect(calls).toBe(1);
  });
});

/** A random JSON value (objects, arrays, strings with escapes and non-ASCII, numbers, literals). */
function json(r: R, depth = 0): unknown {
  const kind = int(r, 0, depth > 3 ? 3 : 6);
  if (kind === 0) return int(r, -1000, 1000) / int(r, 1, 8);
  if (kind === 1) return ['', 'a"b', 'x\\y', 'naïve 😀', 'line\n', '{[]}'][int(r, 0, 5)];
  if (kind === 2) return [true, false, null][int(r, 0, 2)];
  if (kind === 3) return `s${int(r, 0, 99)}`;
  if (kind === 4) return Array.from({ length: int(r, 0, 4) }, () => json(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = int(r, 0, 5); i > 0; i--) o[`k${int(r, 0, 6)}`] = json(r, depth + 1);
  return o;
}

describe('JSON merge patch (patch)', () => {
  it('passes the RFC 7396 appendix A examples', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) expect(mergePatch(target, patch)).toEqual(result);
  });

  it('never touches a prototype and never modifies its arguments', () => {
    const target = JSON.parse('{"a":{"b":1}}');
    const patch = JSON.parse('{"__proto__":{"polluted":true},"a":{"c":2}}');
    const out = mergePatch(target, patch) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(target).toEqual({ a: { b: 1 } });
    expect(JSON.parse(JSON.stringify(out))).toEqual(
      JSON.parse('{"a":{"b":1,"c":2},"__proto__":{"polluted":true}}'),
    );
  });

  it('a buffered patch gives the same body under any chunking; a body over the limit passes whole', async () => {
    const r = mulberry32(4);
    for (let n = 0; n < CASES; n++) {
      const value = { id: n, v: json(r) };
      const patch = { v: json(r), extra: r() < 0.5 ? null : json(r) };
      const body = Buffer.from(JSON.stringify(value));
      const limit = int(r, 1, 2 * body.length);
      const skipped: string[] = [];
      const rewrite = (b: Buffer) => {
        const v = parseJson(b);
        return isJsonObject(v) ? JSON.stringify(mergePatch(v, patch)) : b;
      };
      const stream = bufferedRewrite(limit, rewrite, (why) => skipped.push(why));
      const { out } = await drive(stream, split(r, body));
      if (body.length > limit) {
        expect(out.equals(body), `case ${n}`).toBe(true);
        expect(skipped).toEqual(['body over max_body_bytes']);
      } else expect(out.toString()).toBe(JSON.stringify(mergePatch(value, patch)));
    }
  });
});

describe('corruption (malformed)', () => {
  it('json_syntax: any JSON text stops parsing, at the same length', () => {
    const r = mulberry32(5);
    for (let n = 0; n < CASES * 2; n++) {
      const text = JSON.stringify(json(r), null, r() < 0.3 ? 2 : undefined) + (r() < 0.2 ? '\n' : '');
      const body = Buffer.from(text);
      const broken = breakJson(body, new SeededRng(n));
      expect(broken, text).toBeDefined();
      expect(broken!.length).toBe(body.length);
      expect(() => JSON.parse(broken!.toString('utf8')), `${text} -> ${broken}`).toThrow();
    }
    expect(breakJson(Buffer.from('not json'), new SeededRng(1))).toBeUndefined();
  });

  it('garbage keeps the length and does not depend on chunking', async () => {
    const r = mulberry32(6);
    for (let n = 0; n < CASES; n++) {
      const body = bytes(r, int(r, 1, 3000));
      const a = await drive(garbageStream(new SeededRng(n)), split(r, body));
      const b = await drive(garbageStream(new SeededRng(n)), split(r, body));
      expect(a.out.length).toBe(body.length);
      expect(a.out.equals(b.out), `case ${n}`).toBe(true);
    }
  });

  it('encoding replaces only letters and digits, with bytes UTF-8 never allows, under any chunking', async () => {
    const r = mulberry32(7);
    const fatal = new TextDecoder('utf-8', { fatal: true });
    for (let n = 0; n < CASES; n++) {
      const body = Buffer.from(JSON.stringify({ n, text: json(r), more: 'plenty of letters here' }));
      const skipped: string[] = [];
      const a = await drive(
        invalidUtf8Stream(new SeededRng(n), (why) => skipped.push(why)),
        split(r, body),
      );
      const b = await drive(
        invalidUtf8Stream(new SeededRng(n), () => {}),
        split(r, body),
      );
      expect(a.out.equals(b.out), `case ${n}`).toBe(true);
      expect(a.out.length).toBe(body.length);
      for (let i = 0; i < body.length; i++) {
        if (a.out[i] === body[i]) continue;
        expect(String.fromCharCode(body[i]!)).toMatch(/[A-Za-z0-9]/);
        expect(INVALID_UTF8).toContain(a.out[i]);
      }
      expect(() => fatal.decode(a.out)).toThrow();
      expect(skipped).toEqual([]);
    }
    const skipped: string[] = [];
    const { out } = await drive(
      invalidUtf8Stream(new SeededRng(1), (why) => skipped.push(why)),
      [Buffer.from('{} []')],
    );
    expect(out.toString()).toBe('{} []');
    expect(skipped).toEqual(['no text to corrupt']);
  });
});
