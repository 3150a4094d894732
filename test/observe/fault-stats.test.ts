import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/metrics.js';

describe('fault counters in plain numbers', () => {
  it('render the same families, labels and HELP/TYPE as prom-client did; a series appears at its first increment', async () => {
    const m = new Metrics(100);
    const empty = await m.registry.metrics();
    expect(empty).toContain('# TYPE faultgate_faults_injected_total counter');
    expect(empty).not.toMatch(/^faultgate_faults_injected_total\{/m);
    expect(empty).toMatch(/^faultgate_active_faults 0$/m);
    for (let i = 0; i < 3; i++) m.faults.injected('a1', 'search', 'slow "search"', 'latency');
    m.faults.injected('a2', 'search', 'slow "search"', 'latency');
    m.faults.skipped('cut', 'truncate', 'too_large');
    m.faults.overflow('cut', 'truncate');
    m.faults.overflow('cut', 'truncate');
    m.faults.active.inc();
    m.faults.active.inc();
    m.faults.active.dec();
    const text = await m.registry.metrics();
    expect(text).toContain(
      '# HELP faultgate_faults_injected_total Faults injected, by agent, tool, experiment and fault type\n# TYPE faultgate_faults_injected_total counter',
    );
    expect(text).toMatch(
      /^faultgate_faults_injected_total\{agent="a1",tool="search",experiment="slow \\"search\\"",fault="latency"\} 3$/m,
    );
    expect(text).toMatch(
      /^faultgate_faults_injected_total\{agent="a2",tool="search",experiment="slow \\"search\\"",fault="latency"\} 1$/m,
    );
    expect(text).toMatch(
      /^faultgate_faults_skipped_total\{experiment="cut",fault="truncate",reason="too_large"\} 1$/m,
    );
    expect(text).toMatch(/^faultgate_faults_overflow_total\{experiment="cut",fault="truncate"\} 2$/m);
    expect(text).toMatch(/^faultgate_active_faults 1$/m);
    expect(m.faults.activeCount()).toBe(1);
  });

  it('caps agents, tools and experiments into `other`, and a plain prom-client registry reads them too', async () => {
    const m = new Metrics(2);
    for (const exp of ['e1', 'e2', 'e3', 'e4']) m.faults.injected('a', 't', exp, 'error');
    const text = await m.registry.metrics();
    expect(text).toMatch(/experiment="e1",fault="error"\} 1$/m);
    expect(text).toMatch(/experiment="other",fault="error"\} 2$/m);
    const plain = new Registry();
    const fresh = new Metrics(10);
    fresh.faults.overflow('x', 'reset');
    const json = await await fresh.registry.getSingleMetric('faultgate_faults_overflow_total')!.get();
    plain.registerMetric(fresh.registry.getSingleMetric('faultgate_faults_overflow_total')!);
    expect(json.values).toEqual([
      {
        metricName: 'faultgate_faults_overflow_total',
        labels: { experiment: 'x', fault: 'reset' },
        value: 1,
      },
    ]);
    expect(await plain.metrics()).toMatch(
      /^faultgate_faults_overflow_total\{experiment="x",fault="reset"\} 1$/m,
    );
  });
});
