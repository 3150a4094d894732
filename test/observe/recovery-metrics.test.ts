import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelCap } from '../../src/observe/labels.js';
import { RecoveryTracker } from '../../src/observe/tracker.js';
import { outcome, parseExposition, sample, setup, slos } from './tracker-fixtures.js';

const W = slos.recovery_window_s * 1000;

async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parseExposition(await registry.metrics());
}

describe('recovery metrics (SPEC section 6)', () => {
  it('declares every recovery metric with its type', async () => {
    const { registry } = setup();
    const text = await registry.metrics();
    const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(types).toEqual({
      faultgate_incidents_total: 'counter',
      faultgate_unrecovered_incidents_total: 'counter',
      faultgate_recoveries_total: 'counter',
      faultgate_recovery_seconds: 'histogram',
      faultgate_recovery_attempts: 'histogram',
      faultgate_mttr_seconds: 'gauge',
      faultgate_availability_ratio: 'gauge',
      faultgate_error_budget_remaining_ratio: 'gauge',
    });
  });

  it('counts incidents and recoveries, observes recovery time and attempts, and computes gauges at scrape', async () => {
    const { registry, send, clock } = setup({ tools: [{ name: 'llm-mini', fallback_for: ['llm'] }] });
    const search = { agent: 'planner', tool: 'search' };
    const llm = { agent: 'planner', tool: 'llm' };
    // search: fail, fail, success -> recovered by retry in 2.1 s with 3 attempts
    send({ at: 1000, ok: false }, { at: 2000, ok: false }, { at: 3000, dur: 200 });
    // search again: fail, success 0.4 s later -> 2 attempts
    send({ at: 10_000, ok: false }, { at: 10_400 });
    // llm: fail, recovered by the fallback 30 s later
    send({ at: 0, tool: 'llm', ok: false }, { at: 30_000, tool: 'llm-mini' });
    // coder/llm: fail and never recover
    send({ at: 0, agent: 'coder', tool: 'llm', ok: false });
    clock.now = 100 + W + 1;
    const m = await scrape(registry);

    expect(sample(m, 'faultgate_incidents_total', search)).toBe(2);
    expect(sample(m, 'faultgate_incidents_total', llm)).toBe(1);
    expect(sample(m, 'faultgate_recoveries_total', { ...search, kind: 'retry' })).toBe(2);
    expect(sample(m, 'faultgate_recoveries_total', { ...search, kind: 'fallback' })).toBeUndefined();
    expect(sample(m, 'faultgate_recoveries_total', { ...llm, kind: 'fallback' })).toBe(1);
    expect(sample(m, 'faultgate_unrecovered_incidents_total', { agent: 'coder', tool: 'llm' })).toBe(1);
    expect(sample(m, 'faultgate_unrecovered_incidents_total', search)).toBeUndefined();

    const bucket = (name: string, labels: Record<string, string>, le: string) =>
      sample(m, `${name}_bucket`, { ...labels, le });
    expect(bucket('faultgate_recovery_seconds', search, '0.25')).toBe(0);
    expect(bucket('faultgate_recovery_seconds', search, '0.5')).toBe(1);
    expect(bucket('faultgate_recovery_seconds', search, '2.5')).toBe(2);
    expect(bucket('faultgate_recovery_seconds', search, '+Inf')).toBe(2);
    expect(sample(m, 'faultgate_recovery_seconds_count', search)).toBe(2);
    expect(sample(m, 'faultgate_recovery_seconds_sum', search)).toBeCloseTo(2.5, 9);
    expect(bucket('faultgate_recovery_seconds', llm, '30')).toBe(1);
    expect(bucket('faultgate_recovery_seconds', llm, '20')).toBe(0);
    expect(bucket('faultgate_recovery_attempts', search, '1')).toBe(0);
    expect(bucket('faultgate_recovery_attempts', search, '2')).toBe(1);
    expect(bucket('faultgate_recovery_attempts', search, '3')).toBe(2);
    expect(bucket('faultgate_recovery_attempts', search, '50')).toBe(2);
    expect(sample(m, 'faultgate_recovery_attempts_sum', search)).toBe(5);
    expect(sample(m, 'faultgate_recovery_attempts_count', llm)).toBe(1);

    expect(sample(m, 'faultgate_mttr_seconds', search)).toBeCloseTo(1.25, 9);
    expect(sample(m, 'faultgate_mttr_seconds', llm)).toBeCloseTo(30, 9);
    expect(sample(m, 'faultgate_mttr_seconds', { agent: 'coder', tool: 'llm' })).toBeUndefined();
    expect(sample(m, 'faultgate_availability_ratio', { ...search, kind: 'request' })).toBe(2 / 5);
    expect(sample(m, 'faultgate_availability_ratio', { ...search, kind: 'effective' })).toBe(1);
    expect(sample(m, 'faultgate_availability_ratio', { ...llm, kind: 'request' })).toBe(0);
    expect(
      sample(m, 'faultgate_availability_ratio', { agent: 'coder', tool: 'llm', kind: 'effective' }),
    ).toBe(0);
    expect(sample(m, 'faultgate_error_budget_remaining_ratio', search)).toBe(1);
    // 1 − 1 / (0.01 × (0 + 1)) = −99
    expect(sample(m, 'faultgate_error_budget_remaining_ratio', { agent: 'coder', tool: 'llm' })).toBeCloseTo(
      -99,
      6,
    );
  });

  it('gauges follow the state at each scrape; expiry happens at scrape time too', async () => {
    const { registry, send, clock } = setup();
    send({ at: 0, ok: false });
    let m = await scrape(registry);
    expect(sample(m, 'faultgate_incidents_total', { agent: 'planner', tool: 'search' })).toBe(1);
    expect(
      sample(m, 'faultgate_availability_ratio', { agent: 'planner', tool: 'search', kind: 'effective' }),
    ).toBe(1);
    clock.now = 100 + W + 1;
    m = await scrape(registry);
    expect(sample(m, 'faultgate_unrecovered_incidents_total', { agent: 'planner', tool: 'search' })).toBe(1);
    expect(
      sample(m, 'faultgate_availability_ratio', { agent: 'planner', tool: 'search', kind: 'effective' }),
    ).toBe(0);
    send({ at: 200_000 }, { at: 200_100 }, { at: 200_200 });
    m = await scrape(registry);
    expect(
      sample(m, 'faultgate_availability_ratio', { agent: 'planner', tool: 'search', kind: 'effective' }),
    ).toBe(0.75);
  });

  it('label values are capped: beyond maxLabelValues agents share `other`', async () => {
    const { registry, send, tracker } = setup({ maxLabelValues: 3 });
    for (let i = 0; i < 1000; i++) send({ at: i * 10, agent: `a${i}`, ok: false });
    const m = await scrape(registry);
    const agents = new Set(
      [...m.keys()]
        .filter((k) => k.startsWith('faultgate_incidents_total'))
        .map((k) => /agent="([^"]*)"/.exec(k)![1]),
    );
    expect([...agents].sort()).toEqual(['a0', 'a1', 'a2', 'other']);
    expect(tracker.size).toBe(4);
    // one incident for `other`, still open: its failures keep adding attempts
    expect(sample(m, 'faultgate_incidents_total', { agent: 'other', tool: 'search' })).toBe(1);
  });

  it('uses shared label caps when given, and registers nothing without a registry', () => {
    const agents = new LabelCap(1);
    agents.get('seen-first-by-the-request-metrics');
    const t = new RecoveryTracker({
      slos,
      tools: [],
      maxLabelValues: 200,
      now: () => 0,
      labelCaps: { agents, tools: new LabelCap(200) },
    });
    t.observe(outcome({ at: 0, ok: false }));
    const r = t.report({ seed: null, configHash: '' });
    expect(r.agents.map((a) => a.agent)).toEqual(['other']);
    expect(r.overall.incidents).toBe(1);
  });
});
