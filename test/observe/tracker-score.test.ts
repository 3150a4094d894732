import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/observe/tracker-latency.js';
import {
  effectiveAvailability,
  errorBudgetRemaining,
  gradeFor,
  mttrSeconds,
  nines,
  type RecoveryCounts,
  recoveryRate,
  requestAvailability,
  scoreParts,
} from '../../src/observe/tracker-score.js';

const slos = { availability: 0.99, latency_p99_ms: 2000, mttr_s: 30 };

function counts(c: Partial<RecoveryCounts>): RecoveryCounts {
  return {
    requests: 0,
    successes: 0,
    failures: 0,
    incidents: 0,
    recovered: 0,
    unrecovered: 0,
    open: 0,
    recoveryMsSum: 0,
    attemptsSum: 0,
    ...c,
  };
}

describe('SPEC section 5 formulas', () => {
  it('availabilities and error budget', () => {
    const c = counts({ requests: 200, successes: 150, failures: 50, unrecovered: 2 });
    expect(requestAvailability(c)).toBe(0.75);
    expect(effectiveAvailability(c)).toBe(1 - 2 / 152);
    expect(errorBudgetRemaining(c, 0.9)).toBeCloseTo(1 - 2 / (0.1 * 152), 12);
    const none = counts({});
    expect([
      requestAvailability(none),
      effectiveAvailability(none),
      errorBudgetRemaining(none, 0.99),
    ]).toEqual([1, 1, 1]);
    // all budget spent exactly: U = (1 − slo) × (S + U)
    expect(errorBudgetRemaining(counts({ successes: 99, unrecovered: 1 }), 0.99)).toBeCloseTo(0, 12);
  });

  it('MTTR and recovery rate', () => {
    expect(mttrSeconds(counts({ recovered: 4, recoveryMsSum: 10_000 }))).toBe(2.5);
    expect(mttrSeconds(counts({ unrecovered: 1 }))).toBeNull();
    expect(recoveryRate(counts({ recovered: 3, unrecovered: 1 }))).toBe(0.75);
    expect(recoveryRate(counts({ incidents: 1 }))).toBe(1);
  });

  it('A = clamp((eff − 0.5)/(slo − 0.5), 0, 1)', () => {
    const c = counts({});
    expect(scoreParts(0.745, null, c, slos).A).toBeCloseTo(0.5, 12);
    expect(scoreParts(0.4, null, c, slos).A).toBe(0);
    expect(scoreParts(0.999, null, c, slos).A).toBe(1);
  });

  it('L = min(1, slo_p99 / p99), 1 with no latency data', () => {
    const c = counts({});
    expect(scoreParts(1, 4000, c, slos).L).toBe(0.5);
    expect(scoreParts(1, 1000, c, slos).L).toBe(1);
    expect(scoreParts(1, null, c, slos).L).toBe(1);
  });

  it('R = recovery rate × min(1, slo_mttr / mttr), 1 with no incidents', () => {
    expect(scoreParts(1, null, counts({}), slos).R).toBe(1);
    const slow = counts({ incidents: 4, recovered: 3, unrecovered: 1, recoveryMsSum: 3 * 60_000 });
    expect(scoreParts(1, null, slow, slos).R).toBe(0.75 * 0.5);
    const fast = counts({ incidents: 2, recovered: 2, recoveryMsSum: 2000 });
    expect(scoreParts(1, null, fast, slos).R).toBe(1);
    expect(scoreParts(1, null, counts({ incidents: 1, unrecovered: 1 }), slos).R).toBe(0);
  });

  it('score = 40A + 20L + 40R', () => {
    const c = counts({ incidents: 4, recovered: 3, unrecovered: 1, recoveryMsSum: 3 * 60_000 });
    const p = scoreParts(0.745, 4000, c, slos);
    expect(p.score).toBe(40 * 0.5 + 20 * 0.5 + 40 * 0.375);
    expect(p.grade).toBe('F');
  });

  it('grades: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F', () => {
    const table: [number, string][] = [
      [100, 'A'],
      [90, 'A'],
      [89.9, 'B'],
      [80, 'B'],
      [79.9, 'C'],
      [70, 'C'],
      [69.9, 'D'],
      [60, 'D'],
      [59.9, 'F'],
      [0, 'F'],
    ];
    for (const [score, grade] of table) expect([score, gradeFor(score)]).toEqual([score, grade]);
  });

  it('the score is rounded to 0.1 and the grade read from the rounded score', () => {
    // A = 0.749, L = 1, R = 1: 29.96 + 20 + 40 = 89.96 → 90 → A, so score and grade always agree
    const edge = scoreParts(0.5 + 0.49 * 0.749, null, counts({}), slos);
    expect(edge.A).toBeCloseTo(0.749, 12);
    expect(edge.score).toBe(90);
    expect(edge.grade).toBe('A');
    const below = scoreParts(0.5 + 0.49 * 0.747, null, counts({}), slos); // 89.88 → 89.9
    expect([below.score, below.grade]).toEqual([89.9, 'B']);
  });

  it('nines: −log10(1 − a), capped at 9', () => {
    expect(nines(0.99)).toBe(2);
    expect(nines(0.999)).toBe(3);
    expect(nines(0.5)).toBe(0.3);
    expect(nines(1)).toBe(9);
    expect(nines(1 - 1e-12)).toBe(9);
    expect(nines(0)).toBe(0);
  });
});

describe('latency histogram', () => {
  it('answers quantiles within 5% of the exact value', () => {
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 10_000; i++) {
      const v = 0.5 * 1.001 ** i; // 0.5 ms .. ~11 s
      values.push(v);
      h.add(v);
    }
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.99, 1]) {
      const exact = values[Math.max(0, Math.ceil(q * values.length) - 1)]!;
      const got = h.quantile(q)!;
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.05);
    }
    expect(h.count).toBe(10_000);
  });

  it('merges exactly and stays bounded whatever the values', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 5000;
      (i % 2 ? a : b).add(v);
      all.add(v);
    }
    a.merge(b);
    for (const q of [0.1, 0.5, 0.99]) expect(a.quantile(q)).toBe(all.quantile(q));
    const wide = new LatencyHistogram();
    for (const v of [-5, 0, Number.NaN, 0.001, 1e9, 3.6e6, 42]) wide.add(v);
    expect(wide.storedBuckets).toBeLessThanOrEqual(175);
    expect(wide.quantile(0)).toBeLessThan(0.1);
    expect(wide.quantile(1)).toBeGreaterThan(3.4e6);
    expect(new LatencyHistogram().quantile(0.5)).toBeNull();
  });
});
