import { describe, expect, it } from 'vitest';
import { ChaosEngine } from '../../src/chaos/engine.js';
import { parseConfig } from '../../src/config/load.js';

function engine(experiments: string): ChaosEngine {
  const r = parseConfig(
    't.yaml',
    `version: 1\nlisteners: [{ name: main, listen: "127.0.0.1:0" }]\nchaos: { seed: 3 }\nexperiments:\n${experiments}`,
    {},
  );
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return new ChaosEngine(r.config);
}

describe('ChaosEngine.decide', () => {
  it('lets a request pass with one shared verdict when nothing fires', () => {
    const e = engine('  - { name: off, type: error, probability: 0 }\n');
    const first = e.decide('a', 't', 'search', undefined);
    expect(first).toEqual({ kind: 'pass' });
    expect(e.decide('b', 't', 'other', undefined)).toBe(first);
  });

  it('returns the fired experiments and the request stream when the draw fires', () => {
    const e = engine('  - { name: always, type: error, probability: 1 }\n');
    const v = e.decide('a', 't', 'search', undefined);
    expect(v.kind).toBe('faults');
    if (v.kind !== 'faults') return;
    expect(v.fired.map((x) => x.name)).toEqual(['always']);
    expect(v.rng.next()).toBeGreaterThanOrEqual(0);
  });

  it('parses an x-faultgate-fault override itself: exactly that fault, whatever the sessions say', () => {
    const e = engine('  - { name: off, type: error, probability: 0 }\n');
    const v = e.decide('a', 't', 'search', 'error;status=418');
    expect(v.kind).toBe('faults');
    if (v.kind !== 'faults') return;
    expect(v.fired.map((x) => [x.name, x.type, x.session])).toEqual([['override', 'error', undefined]]);
    // Repeated headers: the first one counts.
    const both = e.decide('a', 't', 'search', ['latency;min_ms=1', 'error']);
    expect(both.kind === 'faults' && both.fired[0]!.type).toBe('latency');
  });

  it('refuses a malformed override with the code and a message naming the problem', () => {
    const e = engine('  - { name: always, type: error, probability: 1 }\n');
    const v = e.decide('a', 't', 'search', 'error;status=abc');
    expect(v).toMatchObject({ kind: 'refuse', code: 'FAULTGATE_ERR_OVERRIDE' });
    expect(v.kind === 'refuse' && v.message).toMatch(/status/);
    expect(e.decide('a', 't', 'search', 'nope').kind).toBe('refuse');
  });
});
