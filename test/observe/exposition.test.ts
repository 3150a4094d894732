import { setImmediate as tick } from 'node:timers/promises';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, HistogramFamily, LabelSet, MetricsRegistry } from '../../src/observe/exposition.js';
import { durationBuckets, Metrics } from '../../src/observe/metrics.js';
import { parseExposition, sample, setup } from './tracker-fixtures.js';

/** Durations spread over every bucket, bounds included (a value on a bound is in that bucket). */
const durations = [0, 0.001, 0.0011, 0.004, 0.01, 0.3, 0.5, 2.5, 7, 60, 299, 300, 301, 1e6];

describe('plain-number metric families (exposition.ts)', () => {
  it('render the same samples as prom-client for the same counts and observations', async () => {
    const ref = new Registry();
    const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['agent', 'tool'], registers: [ref] });
    const h = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['agent', 'tool'],
      buckets: durationBuckets,
      registers: [ref],
    });
    const ours = new MetricsRegistry();
    const counters = new CounterFamily('x_total', 'h').register(ours);
    const hist = new HistogramFamily('x_seconds', 'h', durationBuckets).register(ours);
    const series = counters.add(new LabelSet({ agent: 'a', tool: 't' }));
    const hs = hist.series({ agent: 'a', tool: 't' });
    for (const d of durations) {
      c.labels('a', 't').inc();
      series.inc();
      h.labels('a', 't').observe(d);
      hs.observe(d);
    }
    const want = parseExposition(await ref.metrics());
    expect(parseExposition(await ours.metrics())).toEqual(want);
    // A plain registry reads the same families through get().
    const plain = new Registry();
    counters.register(plain);
    hist.register(plain);
    expect(parseExposition(await plain.metrics())).toEqual(want);
    expect(sample(want, 'x_seconds_bucket', { agent: 'a', tool: 't', le: '0.001' })).toBe(2);
  });

  it('escapes label values once, as the text format requires', async () => {
    const reg = new MetricsRegistry();
    const f = new CounterFamily('y_total', 'h').register(reg);
    f.add(new LabelSet({ agent: 'a"b\\c\nd' })).inc();
    const text = await reg.metrics();
    expect(text).toContain('y_total{agent="a\\"b\\\\c\\nd"} 1');
    const plain = new Registry();
    f.register(plain);
    expect(await plain.metrics()).toContain('y_total{agent="a\\"b\\\\c\\nd"} 1');
  });

  it('a series appears at its first event, and reset() zeroes the families', async () => {
    const reg = new MetricsRegistry();
    const f = new CounterFamily('z_total', 'h').register(reg);
    const s = f.add(new LabelSet({ agent: 'a' }));
    expect(await reg.metrics()).not.toContain('z_total{');
    s.inc();
    expect(await reg.metrics()).toContain('z_total{agent="a"} 1');
    reg.resetMetrics();
    expect(await reg.metrics()).not.toContain('z_total{');
  });

  it('yields to the event loop while rendering a large family', async () => {
    const reg = new MetricsRegistry();
    const f = new CounterFamily('big_total', 'h').register(reg);
    for (let i = 0; i < 10_000; i++) f.add(new LabelSet({ agent: `a${i}` })).inc();
    let ticks = 0;
    let rendering = true;
    const ticker = (async () => {
      while (rendering) {
        ticks++;
        await tick();
      }
    })();
    const text = await reg.metrics();
    rendering = false;
    await ticker;
    expect(text.split('\n').filter((l) => l.startsWith('big_total{'))).toHaveLength(10_000);
    expect(ticks).toBeGreaterThan(2); // 10,000 lines in slices of 500: other work ran in between
  });
});

describe('MetricsRegistry.slices()', () => {
  it('renders the families one after another, the event loop running after every slice', async () => {
    const reg = new MetricsRegistry();
    const a = new CounterFamily('a_total', 'h').register(reg);
    new Counter({ name: 'c_total', help: 'h', registers: [reg] }).inc(3);
    const b = new CounterFamily('b_total', 'h').register(reg);
    for (let i = 0; i < 5000; i++) {
      a.add(new LabelSet({ agent: `a${i}` })).inc();
      b.add(new LabelSet({ agent: `b${i}` })).inc();
    }
    let turned = true;
    let slices = 0;
    let text = '';
    for await (const slice of reg.slices()) {
      // Each slice of our sample lines comes after a turn of the event loop.
      if (/\n[ab]_total\{/.test(slice)) expect(turned).toBe(true);
      turned = false;
      setImmediate(() => {
        turned = true;
      });
      slices++;
      text += slice;
    }
    expect(slices).toBeGreaterThan(6); // 2 x (header + 10 slices of <= 500 lines) + c_total + end
    expect(text).toBe(await reg.metrics());
    // In registration order, each family whole before the next begins.
    const first = (name: string) => text.indexOf(`\n${name}`);
    expect(text.lastIndexOf('\na_total{')).toBeLessThan(first('c_total'));
    expect(first('c_total')).toBeLessThan(first('b_total{'));
    // The same text as prom-client's renderer (families apart by one blank line, a final newline).
    const plain = new Registry();
    a.register(plain);
    new Counter({ name: 'c_total', help: 'h', registers: [plain] }).inc(3);
    b.register(plain);
    expect(text).toBe(await plain.metrics());
  });
});

describe('Metrics: metrics.detail', () => {
  async function scrapeWith(detail: 'full' | 'tool' | 'agent') {
    const m = new Metrics(10, detail);
    for (const [agent, tool] of [
      ['a1', 't1'],
      ['a2', 't1'],
      ['a1', 't2'],
    ] as const) {
      const s = m.exchange(agent, tool);
      s.success.inc();
      s.duration.observe(0.02);
    }
    m.exchange('a1', 't1').injectedFailure.inc();
    return parseExposition(await m.registry.metrics());
  }

  it('keeps counters per (agent, tool) and folds the duration histogram at tool and agent detail', async () => {
    const full = await scrapeWith('full');
    expect(sample(full, 'faultgate_request_duration_seconds_count', { agent: 'a1', tool: 't1' })).toBe(1);
    expect(
      sample(full, 'faultgate_requests_total', {
        agent: 'a1',
        tool: 't1',
        outcome: 'failure',
        injected: 'true',
      }),
    ).toBe(1);

    const tool = await scrapeWith('tool');
    expect(sample(tool, 'faultgate_request_duration_seconds_count', { agent: '*', tool: 't1' })).toBe(2);
    expect(sample(tool, 'faultgate_request_duration_seconds_count', { agent: '*', tool: 't2' })).toBe(1);
    expect(
      sample(tool, 'faultgate_request_duration_seconds_count', { agent: 'a1', tool: 't1' }),
    ).toBeUndefined();
    expect(
      sample(tool, 'faultgate_requests_total', {
        agent: 'a2',
        tool: 't1',
        outcome: 'success',
        injected: 'false',
      }),
    ).toBe(1);

    const agent = await scrapeWith('agent');
    expect(sample(agent, 'faultgate_request_duration_seconds_count', { agent: 'a1', tool: '*' })).toBe(2);
    expect(
      sample(agent, 'faultgate_request_duration_seconds_bucket', { agent: 'a2', tool: '*', le: '0.025' }),
    ).toBe(1);
  });
});

describe('recovery gauges through MetricsRegistry', () => {
  it('share one pass over the keys within a scrape and are fresh at the next one', async () => {
    const registry = new MetricsRegistry();
    const { send } = setup({ metricsDetail: 'tool', registry });
    const all = { agent: '*', tool: 'search' };
    send({ at: 0, ok: false }, { at: 1000 });
    const first = parseExposition(await registry.metrics());
    expect(sample(first, 'faultgate_availability_ratio', { ...all, kind: 'request' })).toBeCloseTo(1 / 2, 9);
    expect(sample(first, 'faultgate_mttr_seconds', all)).toBeCloseTo(1, 9);
    send({ at: 2000 }, { at: 3000, agent: 'coder', ok: false }, { at: 6000, agent: 'coder' });
    const second = parseExposition(await registry.metrics());
    expect(sample(second, 'faultgate_availability_ratio', { ...all, kind: 'request' })).toBeCloseTo(3 / 5, 9);
    expect(sample(second, 'faultgate_mttr_seconds', all)).toBeCloseTo(2, 9); // (1 s + 3 s) / 2
    expect(sample(second, 'faultgate_error_budget_remaining_ratio', all)).toBe(1);
  });
});

describe('recovery metrics: metrics.detail tool', () => {
  it('folds recovery histograms and gauges per tool from the summed counters, counters stay per key', async () => {
    const { registry, send, clock } = setup({ metricsDetail: 'tool' });
    // planner: fail, success 1 s later (recovered); coder: fail, never recovers
    send({ at: 0, ok: false }, { at: 1000 });
    send({ at: 0, agent: 'coder', ok: false });
    clock.now = 100 + 60_000 + 1;
    const m = parseExposition(await registry.metrics());
    const all = { agent: '*', tool: 'search' };
    expect(sample(m, 'faultgate_incidents_total', { agent: 'planner', tool: 'search' })).toBe(1);
    expect(sample(m, 'faultgate_unrecovered_incidents_total', { agent: 'coder', tool: 'search' })).toBe(1);
    expect(sample(m, 'faultgate_recovery_seconds_count', all)).toBe(1);
    expect(
      sample(m, 'faultgate_recovery_seconds_count', { agent: 'planner', tool: 'search' }),
    ).toBeUndefined();
    expect(sample(m, 'faultgate_mttr_seconds', all)).toBeCloseTo(1, 9);
    // 3 responses, 1 success; effective: 1 - 1 unrecovered / (1 success + 1 unrecovered)
    expect(sample(m, 'faultgate_availability_ratio', { ...all, kind: 'request' })).toBeCloseTo(1 / 3, 9);
    expect(sample(m, 'faultgate_availability_ratio', { ...all, kind: 'effective' })).toBeCloseTo(0.5, 9);
    expect(
      sample(m, 'faultgate_availability_ratio', { agent: 'coder', tool: 'search', kind: 'request' }),
    ).toBe(undefined);
  });
});
