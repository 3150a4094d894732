import { afterEach, describe, expect, it, vi } from 'vitest';
import { RecoveryTracker } from '../../src/observe/tracker.js';
import { outcome, setup, slos } from './tracker-fixtures.js';

const W = slos.recovery_window_s * 1000;

describe('incidents (SPEC section 5)', () => {
  it('opens at the first failure, adds attempts, closes on the first success: fail, fail, success = 3', () => {
    const { send, row, report } = setup();
    send({ at: 1000, ok: false }, { at: 2000, ok: false }, { at: 3000, dur: 200 });
    const r = row();
    expect(r).toMatchObject({ requests: 3, failures: 2, incidents: 1, recovered: 1, unrecovered: 0 });
    expect(r.attempts_mean).toBe(3);
    // open = first failure's end (1100), close = success's end (3200)
    expect(r.mttr_s).toBe(2.1);
    expect(r.recovery_rate).toBe(1);
    const events = report().timeline.filter((e) => e.kind === 'incident_open' || e.kind === 'recovered');
    expect(events).toEqual([
      { at: 1100, agent: 'planner', tool: 'search', kind: 'incident_open' },
      { at: 3200, agent: 'planner', tool: 'search', kind: 'recovered', detail: 'retry' },
    ]);
  });

  it('opens no incident on success and one per failure streak', () => {
    const { send, row } = setup();
    send({ at: 0 }, { at: 1000 });
    expect(row()).toMatchObject({ incidents: 0, recovered: 0, attempts_mean: null, mttr_s: null });
    send({ at: 2000, ok: false }, { at: 3000 }, { at: 4000, ok: false }, { at: 5000, ok: false });
    expect(row()).toMatchObject({ incidents: 2, recovered: 1, unrecovered: 0 });
  });

  it('keys incidents by (agent, tool): another agent or tool does not close them', () => {
    const { send, row } = setup();
    send({ at: 0, ok: false }, { at: 1000, agent: 'coder' }, { at: 1000, tool: 'llm' });
    expect(row()).toMatchObject({ incidents: 1, recovered: 0 });
    expect(row('coder', 'search').incidents).toBe(0);
  });

  it('closes by fallback: a success for a tool declaring it in fallback_for, same agent only', () => {
    const { send, row, report, tracker } = setup({
      tools: [
        { name: 'llm', fallback_for: [] },
        { name: 'llm-mini', fallback_for: ['llm'] },
      ],
    });
    send({ at: 0, tool: 'llm', ok: false }); // open at 100
    send({ at: 150, agent: 'coder', tool: 'llm-mini' }); // other agent: no effect
    send({ at: 200, tool: 'search' }); // not a declared fallback
    expect(row('planner', 'llm')).toMatchObject({ incidents: 1, recovered: 0 });
    send({ at: 400, tool: 'llm-mini' }); // closes at 500
    expect(row('planner', 'llm')).toMatchObject({ recovered: 1, attempts_mean: 2, mttr_s: 0.4 });
    expect(row('planner', 'llm-mini')).toMatchObject({ requests: 1, incidents: 0 });
    expect(report().timeline.at(-1)).toMatchObject({ kind: 'recovered', tool: 'llm', detail: 'fallback' });
    tracker.close();
  });

  it('expires an incident with no success within recovery_window_s as unrecovered', () => {
    const { send, row, tracker, clock, report } = setup();
    send({ at: 900, ok: false }); // open at 1000
    tracker.sweep(1000 + W); // exactly the window: still open
    expect(row()).toMatchObject({ incidents: 1, unrecovered: 0, recovered: 0 });
    tracker.sweep(1000 + W + 1);
    expect(row()).toMatchObject({ incidents: 1, unrecovered: 1, recovered: 0, recovery_rate: 0 });
    expect(report().timeline.at(-1)).toEqual({
      at: 1000 + W,
      agent: 'planner',
      tool: 'search',
      kind: 'unrecovered',
    });
    // report() sweeps with now() as well
    send({ at: 100_000, ok: false });
    clock.now = 100_100 + W + 1;
    expect(row()).toMatchObject({ incidents: 2, unrecovered: 2 });
  });

  it('a success after the window does not recover the incident, even before any sweep', () => {
    const { send, row } = setup();
    send({ at: 900, ok: false }, { at: 1000 + W - 100 + 1 }); // success ends at open + W + 1
    expect(row()).toMatchObject({ incidents: 1, recovered: 0, unrecovered: 1 });
    const late = setup();
    late.send({ at: 900, ok: false }, { at: 1000 + W - 100 }); // success ends exactly at open + W
    expect(late.row()).toMatchObject({ recovered: 1, unrecovered: 0, mttr_s: 60 });
  });

  it('a fallback after the window expires the incident instead of recovering it', () => {
    const { send, row } = setup({ tools: [{ name: 'backup', fallback_for: ['search'] }] });
    send({ at: 0, ok: false }, { at: W + 1, tool: 'backup' });
    expect(row()).toMatchObject({ recovered: 0, unrecovered: 1 });
  });

  it('MTTR is the mean recovery time of recovered incidents (unrecovered ones excluded)', () => {
    const { send, row } = setup();
    send({ at: 0, ok: false }, { at: 2000 }); // 2 s
    send({ at: 10_000, ok: false }, { at: 14_000 }); // 4 s
    send({ at: 20_000, ok: false }, { at: 20_000 + W + 1000 }); // unrecovered, then a success
    expect(row()).toMatchObject({ incidents: 3, recovered: 2, unrecovered: 1, mttr_s: 3, attempts_mean: 2 });
    expect(row().recovery_rate).toBeCloseTo(2 / 3, 12);
  });
});

describe('availability, error budget, score (SPEC section 5)', () => {
  it('request and effective availability, nines and a negative error budget', () => {
    const { send, row } = setup();
    send({ at: 0, ok: false }, { at: 1000, ok: false }); // unrecovered incident
    for (let i = 0; i < 97; i++) send({ at: 100_000 + i * 10 });
    send({ at: 200_000, ok: false }, { at: 201_000 }); // recovered incident
    const r = row();
    expect(r).toMatchObject({ requests: 101, failures: 3, unrecovered: 1, recovered: 1 });
    expect(r.availability.request).toBeCloseTo(98 / 101, 12);
    expect(r.availability.effective).toBeCloseTo(1 - 1 / 99, 12);
    expect(r.availability.nines).toBe(2); // −log10(1/99) = 1.9956
    // 1 − 1 / (0.01 × 99): overspent, so below zero
    expect(r.error_budget_remaining).toBeCloseTo(1 - 1 / (0.01 * 99), 9);
    expect(r.slo.availability).toEqual({ target: 0.99, actual: r.availability.effective, ok: false });
  });

  it('a perfect run scores 100 (A) with nines capped at 9; R = 1 and L = 1 without data', () => {
    const { report } = setup();
    const empty = report().overall;
    expect(empty).toMatchObject({ score: 100, grade: 'A', requests: 0, error_budget_remaining: 1 });
    expect(empty.availability).toEqual({ request: 1, effective: 1, nines: 9 });
    expect(empty.latency_ms).toEqual({ p50: null, p99: null });
    const { send, row } = setup();
    send({ at: 0 }, { at: 10 });
    expect(row()).toMatchObject({ score: 100, grade: 'A', error_budget_remaining: 1 });
    expect(row().slo.mttr_s).toEqual({ target: 30, actual: null, ok: true });
  });

  it('scores 40A + 20L + 40R from the row', () => {
    const { send, row } = setup({ slos: { ...slos, availability: 0.9 } });
    send({ at: 0, ok: false }, { at: 60_000 }); // recovered in 60 s
    send({ at: 200_000, ok: false }, { at: 300_000 }, { at: 301_000 }); // unrecovered, then 2 successes
    const r = row();
    expect(r).toMatchObject({ requests: 5, recovered: 1, unrecovered: 1, mttr_s: 60, recovery_rate: 0.5 });
    expect(r.availability.request).toBe(3 / 5);
    expect(r.availability.effective).toBe(0.75); // 1 − 1/(3 + 1)
    // A = (0.75 − 0.5)/(0.9 − 0.5) = 0.625; L = 1 (p99 ≈ 100 ms); R = 0.5 × min(1, 30/60) = 0.25
    expect(r.score).toBe(55);
    expect(r.grade).toBe('F');
    expect(r.slo.mttr_s).toEqual({ target: 30, actual: 60, ok: false });
    expect(r.slo.latency_p99_ms.ok).toBe(true);
  });

  it('an open incident already counts as unrecovered (R = 0), and so does an expired one', () => {
    const { send, row, tracker } = setup();
    send({ at: 0, ok: false });
    expect(row()).toMatchObject({ incidents: 1, open: 1, recovery_rate: 0, score: 20, grade: 'F' });
    tracker.sweep(W + 1000);
    // eff = 1 − 1/1 = 0 → A = 0; L = 1; R = 0
    expect(row()).toMatchObject({ score: 20, grade: 'F', recovery_rate: 0 });
    expect(row().slo.mttr_s.ok).toBe(false);
  });
});

describe('roll-ups', () => {
  it('sums counts per agent and overall, recomputes ratios and merges latency', () => {
    const { send, report } = setup();
    send({ at: 0, ok: false, dur: 1000, injected: ['error'] }, { at: 1000, dur: 1000 }); // search: 1000 → 2000
    for (let i = 0; i < 98; i++)
      send({ at: 5000 + i, tool: 'llm', dur: 10, injected: i < 3 ? ['latency'] : [] });
    send({ at: 9000, agent: 'coder', tool: 'llm', ok: false });
    const r = report();
    expect(r.agents.map((a) => a.agent)).toEqual(['coder', 'planner']);
    const planner = r.agents[1]!;
    expect(planner.tools.map((t) => t.tool)).toEqual(['llm', 'search']);
    expect(planner).toMatchObject({ requests: 100, failures: 1, incidents: 1, recovered: 1, mttr_s: 1 });
    expect(planner.faults).toEqual({ error: 1, latency: 3 });
    expect(planner.availability.request).toBeCloseTo(99 / 100, 12);
    // 98 fast llm answers and 2 slow search ones: p50 ~10 ms, p99 ~1000 ms (±5%)
    expect(planner.latency_ms.p50).toBeGreaterThan(9.5);
    expect(planner.latency_ms.p50).toBeLessThan(10.5);
    expect(planner.latency_ms.p99).toBeGreaterThan(950);
    expect(planner.latency_ms.p99).toBeLessThan(1050);
    expect(r.overall).toMatchObject({ requests: 101, failures: 2, incidents: 2, recovered: 1 });
    expect(r.overall.faults).toEqual({ error: 1, latency: 3 });
    expect(r.overall.availability.request).toBeCloseTo(99 / 101, 12);
  });

  it('reports span, seed, config hash and generated_at', () => {
    const { send, tracker, clock } = setup();
    send({ at: Date.UTC(2025, 0, 1, 12), dur: 500 }, { at: Date.UTC(2025, 0, 1, 11), dur: 100 });
    clock.now = Date.UTC(2025, 0, 2);
    const r = tracker.report({ seed: 42, configHash: 'h1' });
    expect(r.span).toEqual({ from: '2025-01-01T11:00:00.000Z', to: '2025-01-01T12:00:00.500Z' });
    expect(r).toMatchObject({ seed: 42, config_hash: 'h1', generated_at: '2025-01-02T00:00:00.000Z' });
    const given = tracker.report({ seed: null, configHash: 'h1', generatedAt: new Date(0) });
    expect(given.generated_at).toBe('1970-01-01T00:00:00.000Z');
    expect(setup().report().span).toEqual({ from: null, to: null });
  });
});

describe('bounded memory', () => {
  it('caps agents and tools at maxLabelValues; the rest become `other`', () => {
    const { send, tracker, report } = setup({ maxLabelValues: 10 });
    for (let i = 0; i < 1000; i++) send({ at: i, agent: `agent-${i}`, tool: `tool-${i % 25}` });
    expect(tracker.size).toBeLessThanOrEqual(11 * 11);
    const r = report();
    expect(r.agents).toHaveLength(11);
    const other = r.agents.find((a) => a.agent === 'other')!;
    expect(other.requests).toBe(990);
    expect(other.tools.map((t) => t.tool)).toContain('other');
    expect(r.overall.requests).toBe(1000);
  });

  it('keeps a bounded timeline ring, oldest first', () => {
    const { send, report } = setup({ timelineSize: 5 });
    for (let i = 0; i < 20; i++) send({ at: i * 1000 });
    expect(report().timeline.map((e) => e.at)).toEqual([15_100, 16_100, 17_100, 18_100, 19_100]);
    expect(setup({ timelineSize: 0 }).report().timeline).toEqual([]);
  });

  it('records one event per exchange, its faults, and failure details', () => {
    const { send, report } = setup();
    send({ at: 0, ok: false, status: 429, injected: ['rate_limit'] });
    const t = report().timeline;
    expect(t.map((e) => [e.kind, e.detail])).toEqual([
      ['failure', '429'],
      ['incident_open', undefined],
      ['fault', 'rate_limit'],
    ]);
  });
});

describe('sweep timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires incidents on its own with the real clock, and close() stops it', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const t = new RecoveryTracker({ slos, tools: [], maxLabelValues: 10 });
    t.observe(outcome({ at: 1_000_000 - 100, ok: false }));
    vi.advanceTimersByTime(W + 1000);
    expect(vi.getTimerCount()).toBe(1);
    const row = t.report({ seed: null, configHash: '' }).agents[0]!.tools[0]!;
    expect(row.unrecovered).toBe(1);
    t.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs no timer with an injected clock or a 0 interval, and reconfigure applies the new window', () => {
    vi.useFakeTimers();
    const { tracker, send, row } = setup();
    expect(vi.getTimerCount()).toBe(0);
    tracker.reconfigure({ slos: { ...slos, recovery_window_s: 1 }, tools: [] });
    expect(vi.getTimerCount()).toBe(0);
    send({ at: 0, ok: false });
    tracker.sweep(1101);
    expect(row().unrecovered).toBe(1);
    const real = new RecoveryTracker({ slos, tools: [], maxLabelValues: 10, sweepIntervalMs: 0 });
    expect(vi.getTimerCount()).toBe(0);
    real.close();
  });
});
