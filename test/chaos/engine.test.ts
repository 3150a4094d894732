import { describe, expect, it } from 'vitest';
import { ChaosEngine } from '../../src/chaos/engine.js';
import { parseConfig } from '../../src/config/load.js';

function config(
  experiments: string,
  chaos = 'chaos: { seed: 1 }',
): ReturnType<typeof parseConfig> & { ok: true } {
  const yaml = `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
${chaos}
tools:
  - { name: search, match: { path: "/search" } }
  - { name: llm, match: { path: "/v1/**" } }
  - { name: llm-mini, match: { path: "/mini" } }
experiments:
${experiments}`;
  const r = parseConfig('t.yaml', yaml, {});
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return r;
}

function fires(engine: ChaosEngine, agent: string, tenant: string, tool: string, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (engine.draw(agent, tenant, tool)) count++;
  return count;
}

describe('chaos engine', () => {
  it('targets tools, agents and tenants by name and glob', () => {
    const engine = new ChaosEngine(
      config(`  - name: e
    type: error
    probability: 1
    target: { tools: ["llm*"], agents: [planner, "rev*"], tenants: [acme] }
`).config,
    );
    expect(fires(engine, 'planner', 'acme', 'llm', 5)).toBe(5);
    expect(fires(engine, 'reviewer', 'acme', 'llm-mini', 5)).toBe(5);
    expect(fires(engine, 'coder', 'acme', 'llm', 5)).toBe(0);
    expect(fires(engine, 'planner', 'other', 'llm', 5)).toBe(0);
    expect(fires(engine, 'planner', 'acme', 'search', 5)).toBe(0);
  });

  it('fires at 0.1 x level without a probability, within 5 sigma over 10,000 draws', () => {
    for (const level of [1, 2.5]) {
      const engine = new ChaosEngine(
        config('  - { name: e, type: error }\n', `chaos: { seed: 9, level: ${level} }`).config,
      );
      const p = 0.1 * level;
      const n = 10_000;
      const sigma = Math.sqrt(n * p * (1 - p));
      const count = fires(engine, 'a', 't', 'search', n);
      expect(Math.abs(count - n * p)).toBeLessThan(5 * sigma);
    }
  });

  it('scales an explicit probability by level, capped at 1, and level 0 is off', () => {
    const exp = '  - { name: e, type: error, probability: 0.4 }\n';
    expect(fires(new ChaosEngine(config(exp, 'chaos: { level: 3 }').config), 'a', 't', 'search', 200)).toBe(
      200,
    );
    expect(fires(new ChaosEngine(config(exp, 'chaos: { level: 0 }').config), 'a', 't', 'search', 200)).toBe(
      0,
    );
  });

  it('gives the same decisions for the same seed and request sequence, per (agent, tool)', () => {
    const exp = '  - { name: e, type: error, probability: 0.5 }\n';
    const run = (order: 'ab' | 'ba') => {
      const engine = new ChaosEngine(config(exp, 'chaos: { seed: 77 }').config);
      const a: boolean[] = [];
      for (let i = 0; i < 50; i++) {
        // Interleave another agent differently: agent a's k-th decision must not change.
        if (order === 'ba') engine.draw('b', 't', 'search');
        a.push(engine.draw('a', 't', 'search') !== undefined);
        if (order === 'ab') engine.draw('b', 't', 'search');
      }
      return a;
    };
    expect(run('ab')).toEqual(run('ba'));
    expect(run('ab').filter(Boolean).length).toBeGreaterThan(10);
  });

  it('percentage picks a sticky cohort of agents', () => {
    const engine = new ChaosEngine(
      config('  - { name: e, type: error, probability: 1, target: { percentage: 0.3 } }\n').config,
    );
    let inCohort = 0;
    for (let i = 0; i < 2000; i++) {
      const agent = `agent-${i}`;
      const first = engine.draw(agent, 't', 'search') !== undefined;
      // Sticky: the same agent gets the same answer every time.
      for (let k = 0; k < 3; k++) expect(engine.draw(agent, 't', 'search') !== undefined).toBe(first);
      if (first) inCohort++;
    }
    const sigma = Math.sqrt(2000 * 0.3 * 0.7);
    expect(Math.abs(inCohort - 600)).toBeLessThan(5 * sigma);
  });

  it('honours the schedule window', () => {
    let t = 0;
    const engine = new ChaosEngine(
      config('  - { name: e, type: error, probability: 1, schedule: { after_s: 10, duration_s: 5 } }\n')
        .config,
      () => t,
    );
    expect(engine.draw('a', 't', 'search')).toBeUndefined();
    t = 10_000;
    expect(engine.draw('a', 't', 'search')).toBeDefined();
    t = 14_999;
    expect(engine.draw('a', 't', 'search')).toBeDefined();
    t = 15_000;
    expect(engine.draw('a', 't', 'search')).toBeUndefined();
  });

  it('keeps config order among fired experiments and lets self-deciding faults see every request', () => {
    const engine = new ChaosEngine(
      config(`  - { name: first, type: latency, probability: 1, config: { min_ms: 1 } }
  - { name: second, type: error, probability: 1 }
  - { name: bucket, type: error, probability: 0 }
`).config,
    );
    const d = engine.draw('a', 't', 'search');
    expect(d?.fired.map((e) => e.name)).toEqual(['first', 'second']);
  });
});

describe('experiment validation', () => {
  it('reports bad experiments with the path of the problem', () => {
    const r = parseConfig(
      't.yaml',
      `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
experiments:
  - name: a
    type: latency
    probability: 1.5
    config: { pattern: zigzag, min_ms: 5 }
  - name: b
    type: sse
    target: { percentage: 2 }
    config: {}
`,
      {},
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    expect(paths).toContain('experiments[0].probability');
    expect(paths).toContain('experiments[0].config.pattern');
    expect(paths).toContain('experiments[1].target.percentage');
    expect(paths).toContain('experiments[1].config.action');
  });
});
