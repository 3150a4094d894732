import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/chaos/rng.js';
import {
  corruptJson,
  corruptText,
  mojibake,
  OVERFLOW_BYTES,
  contextCorruptionFault,
} from '../../src/faults/context-corruption.js';
import { contextTruncationFault, defaultSelection } from '../../src/faults/context-truncation.js';
import { hallucinate, hallucinationFault } from '../../src/faults/hallucination.js';
import {
  type Json,
  leavesOf,
  mutateLeaves,
  mutationEnv,
  parsePath,
  selectPath,
  touchCount,
} from '../../src/faults/kit/json-walk.js';
import { bodyHash, ResponseHistory } from '../../src/faults/kit/response-history.js';
import type { FaultContext } from '../../src/faults/types.js';

const rng = (seed = 1) => new SeededRng(seed);
const halluc = (types: string[], severity = 1) => hallucinationFault.schema.parse({ types, severity });
const corruption = (types: string[], severity = 1) =>
  contextCorruptionFault.schema.parse({ types, severity });
const clone = <T>(v: T): T => structuredClone(v);
const numbers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i * 7 + 3]));

describe('walker', () => {
  it('lists leaves in document order with their key, nearest name and enclosing array', () => {
    const doc = { root: { a: 1, b: [true, { c: 'x' }], d: null } as Json };
    const leaves = leavesOf(doc);
    expect(leaves.map((l) => [l.name, l.key, l.value])).toEqual([
      ['a', 'a', 1],
      ['b', 0, true],
      ['c', 'c', 'x'],
      ['d', 'd', null],
    ]);
    expect(leaves[2]!.array).toMatchObject({ index: 1 });
    expect(leaves[0]!.array).toBeUndefined();
    expect(leaves.some((l) => l.root)).toBe(false);
    expect(leavesOf({ root: 'solo' })).toMatchObject([{ root: true, name: undefined, value: 'solo' }]);
  });

  it('touches round(severity x leaves) leaves, at least one, and is deterministic for a seed', () => {
    for (const severity of [0.01, 0.1, 0.3, 0.5, 0.77, 1]) {
      for (const seed of [1, 2, 3]) {
        const root = numbers(100);
        const doc = { root: clone(root) as Json };
        const touched = mutateLeaves(mutationEnv(rng(seed), doc), severity, ['x'], {
          x: { applies: () => true, apply: (leaf) => Object.assign(leaf.parent, { [leaf.key]: -1 }) },
        });
        const changed = Object.keys(root).filter((k) => (doc.root as Record<string, number>)[k] === -1);
        expect(touched).toBe(touchCount(severity, 100));
        expect(changed).toHaveLength(touchCount(severity, 100));
      }
    }
    expect(touchCount(0, 10)).toBe(0);
    expect(touchCount(0.01, 10)).toBe(1);
    const run = (seed: number) => hallucinate(numbers(50), rng(seed), halluc(['wrong_value'], 0.3)).root;
    expect(run(9)).toEqual(run(9));
    expect(run(9)).not.toEqual(run(10));
    const types = ['truncate', 'reorder', 'duplicate', 'drop', 'noise', 'encoding'];
    const mess = (seed: number) =>
      corruptJson({ a: ['x y z', 'u v', 3], b: { c: 'p q r' } }, rng(seed), corruption(types, 0.5)).root;
    expect(mess(5)).toEqual(mess(5));
  });
});

describe('hallucination types', () => {
  const doc = { n: 40, f: 2.5, ok: true, s: 'alpha', t: 'beta', z: null };

  it('wrong_value perturbs numbers, flips booleans, swaps strings; the shape stays', () => {
    const { root } = hallucinate(clone(doc), rng(), halluc(['wrong_value']));
    const r = root as typeof doc;
    expect(Object.keys(r)).toEqual(Object.keys(doc));
    expect(r.n).not.toBe(40);
    expect(Math.abs(r.n - 40)).toBeLessThanOrEqual(20);
    expect(r.f).not.toBe(2.5);
    expect(r.ok).toBe(false);
    expect(r.s).toBe('beta');
    expect(r.t).toBe('alpha');
    expect(r.z).toBeNull();
  });

  it('fabricated_data only adds keys and items', () => {
    const input = { a: 1, list: [1, 2] };
    const r = hallucinate(clone(input), rng(3), halluc(['fabricated_data'])).root as Record<string, Json>;
    expect(r).toMatchObject({ a: 1 });
    expect(Object.keys(r).length + (r.list as Json[]).length).toBeGreaterThan(4);
    expect(r.list as number[]).toEqual(expect.arrayContaining([1, 2]));
  });

  it('contradiction negates: booleans, signs, opposite words', () => {
    const input = { ok: true, n: 5, zero: 0, y: 'Yes', s: 'the service is available', w: 'Paris' };
    expect(hallucinate(clone(input), rng(), halluc(['contradiction'])).root).toEqual({
      ok: false,
      n: -5,
      zero: 1,
      y: 'No',
      s: 'the service is not available',
      w: 'not Paris',
    });
  });

  it('confident_wrong pairs a wrong value with confident wording', () => {
    const r = hallucinate(clone(doc), rng(), halluc(['confident_wrong'])).root as typeof doc;
    expect(r.s).toMatch(/^(Definitely |Confirmed: |I am 100% certain: |Verified: |Without any doubt, )beta$/);
    expect(r.n).not.toBe(40);
    expect(r.ok).toBe(false);
  });

  it('partial_truth cuts strings and arrays to a prefix', () => {
    const input = { s: 'one two three four five six', list: [1, 2, 3, 4] };
    const r = hallucinate(clone(input), rng(2), halluc(['partial_truth'])).root as typeof input;
    expect(input.s.startsWith(r.s) && r.s.length < input.s.length).toBe(true);
    expect(input.list.slice(0, r.list.length)).toEqual(r.list);
    expect(r.list.length).toBeLessThan(4);
  });

  it('nonexistent_reference replaces ids, urls and citations with same-shaped made-up ones', () => {
    const input = {
      url: 'https://docs.example.com/api/users',
      uuid: '123e4567-e89b-12d3-a456-426614174000',
      call: 'call_Ab12cd34',
      user_id: 48213,
      text: 'see the manual',
      count: 3,
    };
    const r = hallucinate(clone(input), rng(), halluc(['nonexistent_reference'])).root as typeof input;
    expect(r.url).toMatch(/^https:\/\/docs\.example\.com\/api\/[a-z0-9]+-[a-z]+-\d{4}$/);
    expect(r.uuid).toMatch(/^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/);
    expect(r.uuid).not.toBe(input.uuid);
    expect(r.call).toMatch(/^call_[A-Z][a-z]\d\d[a-z]{2}\d\d$/);
    expect(r.call).not.toBe(input.call);
    expect(String(r.user_id)).toHaveLength(5);
    expect(r.user_id).not.toBe(48213);
    expect(r.text).toMatch(/^see the manual \[source: https:\/\/docs\.example\.com\/.+\]$/);
    expect(r.count).toBe(3); // not a reference
  });

  it('outdated replays the earlier body (JSON-RPC id kept), else falls back to wrong_value', () => {
    const earlier = { jsonrpc: '2.0', id: 1, result: { temp: 10 } };
    const now = { jsonrpc: '2.0', id: 2, result: { temp: 20 } };
    expect(hallucinate(clone(now), rng(), halluc(['outdated']), earlier)).toEqual({
      root: { jsonrpc: '2.0', id: 2, result: { temp: 10 } },
      touched: 0,
      replayed: true,
    });
    const fallback = hallucinate({ a: 5 }, rng(), halluc(['outdated']));
    expect(fallback.replayed).toBe(false);
    expect(fallback.root).not.toEqual({ a: 5 });
  });
});

describe('context_corruption types', () => {
  const doc = { s: 'alpha beta gamma delta', list: [1, 2, 3, 4, 5], n: 7 };

  it('truncate cuts strings only', () => {
    const r = corruptJson(clone(doc), rng(), corruption(['truncate'])).root as typeof doc;
    expect(doc.s.startsWith(r.s) && r.s.length < doc.s.length).toBe(true);
    expect({ ...r, s: doc.s }).toEqual(doc);
  });

  it('reorder shuffles without losing items; drop removes; duplicate repeats', () => {
    const arr = { list: [1, 2, 3, 4, 5] };
    const re = corruptJson(clone(arr), rng(), corruption(['reorder'])).root as typeof arr;
    expect(re.list).not.toEqual(arr.list);
    expect([...re.list].sort()).toEqual(arr.list);
    const dr = corruptJson(clone(doc), rng(4), corruption(['drop'], 0.5)).root as Record<string, Json>;
    expect(leavesOf({ root: dr }).length).toBeLessThan(leavesOf({ root: doc }).length);
    for (const [k, v] of Object.entries(dr)) if (k !== 'list') expect(v).toEqual(doc[k as keyof typeof doc]);
    const du = corruptJson(clone(arr), rng(), corruption(['duplicate'], 0.2)).root as typeof arr;
    expect(du.list).toHaveLength(6);
    expect([...new Set(du.list)].sort()).toEqual(arr.list);
  });

  it('noise inserts tokens; encoding makes mojibake', () => {
    const r = corruptJson(clone(doc), rng(), corruption(['noise'])).root as typeof doc;
    const words = r.s.split(' ');
    expect(words.filter((w) => !doc.s.split(' ').includes(w)).length).toBeGreaterThanOrEqual(1);
    expect(words.filter((w) => doc.s.split(' ').includes(w))).toEqual(doc.s.split(' '));
    expect(mojibake('café')).toBe('cafÃ©');
    expect(mojibake("it's")).toBe('itâ€™s');
    expect(mojibake('plain')).toBe('ï»¿plain');
    const e = corruptJson({ s: 'naïve' }, rng(), corruption(['encoding'])).root;
    expect(e).toEqual({ s: 'naÃ¯ve' });
  });

  it('stale replays the earlier body; overflow adds a bounded padding to the longest string', () => {
    const s = corruptJson({ v: 2 }, rng(), corruption(['stale']), { v: 1 });
    expect(s).toMatchObject({ root: { v: 1 }, replayed: true });
    const o = corruptJson(clone(doc), rng(), corruption(['overflow'])).root as typeof doc;
    expect(o.s.length).toBe(doc.s.length + 1 + OVERFLOW_BYTES);
    expect(o.s.startsWith(`${doc.s}\n`)).toBe(true);
    expect({ ...o, s: doc.s }).toEqual(doc);
    expect(corruptJson([1, 2], rng(), corruption(['overflow'])).root).toHaveLength(3);
  });

  it('treats a text body as lines', () => {
    const text = 'line one\nline two\nline three\nline four';
    const cut = corruptText(text, rng(), corruption(['truncate'], 0.25)).text;
    expect(text.startsWith(cut) && cut.length < text.length).toBe(true);
    const shuffled = corruptText(text, rng(), corruption(['reorder'], 0.25)).text;
    expect(shuffled).not.toBe(text);
    // Lines are shuffled, or the words of a line: nothing is lost either way.
    expect(shuffled.split(/\s/).sort()).toEqual(text.split(/\s/).sort());
    expect(corruptText(text, rng(), corruption(['stale']), 'old').text).toBe('old');
  });
});

describe('paths and default selection', () => {
  it('parses dot keys, indexes, wildcards and quoted keys', () => {
    expect(parsePath('messages[-1].content')).toEqual([
      { key: 'messages' },
      { index: -1 },
      { key: 'content' },
    ]);
    expect(parsePath('$.params.arguments.*')).toEqual([
      { key: 'params' },
      { key: 'arguments' },
      { any: true },
    ]);
    expect(parsePath('a["b.c"][*]')).toEqual([{ key: 'a' }, { key: 'b.c' }, { any: true }]);
    for (const bad of ['a..b', '.a', 'a[', 'a[x]']) expect(() => parsePath(bad)).toThrow(/bad path/);
    const doc = { root: { m: [{ c: 'x' }, { c: 'y' }] } as Json };
    expect(selectPath(doc, parsePath('m[-1].c')).map((s) => s.value)).toEqual(['y']);
    expect(selectPath(doc, parsePath('m[*].c')).map((s) => s.value)).toEqual(['x', 'y']);
    expect(selectPath(doc, parsePath('m[5].c'))).toEqual([]);
  });

  it('selects the last user message, MCP arguments, or every string', () => {
    const pick = (root: Json) => defaultSelection({ root }).map((s) => s.value);
    const openai = {
      model: 'm',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'a' },
        { role: 'user', content: 'last' },
      ],
    };
    expect(pick(openai)).toEqual(['last']);
    const anthropic: Json = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hi' },
            { type: 'image', source: {} },
          ],
        },
      ],
    };
    expect(pick(anthropic)).toEqual(['hi']);
    const mcp = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'search', arguments: { q: 'cats', n: 3 } },
    };
    expect(pick(mcp)).toEqual(['cats']);
    expect(pick({ a: 'x', b: { type: 't', c: 'y' } })).toEqual(['x', 'y']);
    const gemini = {
      contents: [
        { role: 'user', parts: [{ text: 'q1' }] },
        { role: 'model', parts: [{ text: 'a' }] },
      ],
    };
    expect(pick(gemini)).toEqual(['q1']);
    expect(pick({ model: 'm', input: 'just a prompt' })).toEqual(['just a prompt']);
  });

  it('context_truncation cuts the selected strings, or skips a non-JSON body', () => {
    const skipped: string[] = [];
    const ctx = { skipped: (r: string) => skipped.push(r) } as unknown as FaultContext;
    const fault = contextTruncationFault.create({ fraction: 0.5, paths: ['a', 'a', 'b.*'] });
    const out = fault.requestBody!(ctx, Buffer.from('{"a":"abcdefgh","b":{"x":"1234","type":"text"}}'), {});
    expect(JSON.parse(out!.toString())).toEqual({ a: 'abcd', b: { x: '12', type: 'text' } });
    expect(fault.requestBody!(ctx, Buffer.from('not json'), {})).toBeUndefined();
    expect(skipped).toEqual(['request body is not JSON']);
  });
});

describe('response history', () => {
  it('keeps the oldest differing body, bounded in keys, bodies per key and bytes', () => {
    const h = new ResponseHistory({ maxKeys: 2, perKey: 2, maxBytes: 40 });
    const b = (s: string) => Buffer.from(s);
    h.remember('k', b('one'));
    h.remember('k', b('two'));
    h.remember('k', b('two'));
    expect(h.earlier('k', b('three'))?.toString()).toBe('one');
    expect(h.earlier('k', b('one'))?.toString()).toBe('two');
    h.remember('k', b('three'));
    expect(h.earlier('k', b('x'))?.toString()).toBe('two');
    h.remember('j', b('1'));
    h.remember('i', b('1'));
    expect(h.keys).toBe(2);
    expect(h.earlier('k', b('x'))).toBeUndefined();
    h.remember('big', b('x'.repeat(11))); // over a quarter of maxBytes: not kept
    expect(h.earlier('big', b('y'))).toBeUndefined();
    expect(h.bytes).toBeLessThanOrEqual(40);
  });

  it('hashes a JSON-RPC body without its id', () => {
    const call = (id: number) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call' }));
    expect(bodyHash(call(1))).toBe(bodyHash(call(2)));
    expect(bodyHash(Buffer.from('{"a":1}'))).not.toBe(bodyHash(Buffer.from('{"a":2}')));
  });
});
