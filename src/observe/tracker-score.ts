/**
 * SPEC section 5's formulas, as pure functions of summed counters, so a (agent, tool) row, an
 * agent roll-up, the overall row and the scrape-time gauges all compute them the same way.
 */
import type { Config } from '../config/schema.js';
import type { ToolRow } from './report-model.js';
import type { LatencyHistogram } from './tracker-latency.js';

export type Slos = Config['slos'];
export type Grade = ToolRow['grade'];
export type Row = Omit<ToolRow, 'tool'>;

/** The counters a row is computed from; summing them is how roll-ups are made. */
export interface RecoveryCounts {
  requests: number;
  successes: number;
  failures: number;
  /** Incidents opened (recovered + unrecovered + the one still open, if any). */
  incidents: number;
  recovered: number;
  unrecovered: number;
  /**
   * Incidents still open. A row counts them as unrecovered (SPEC section 5: nothing may flatter
   * an agent that has not recovered yet); the scrape-time gauges read closed incidents only.
   */
  open: number;
  /** Sum of the recovered incidents' recovery times. */
  recoveryMsSum: number;
  /** Sum of the recovered incidents' attempts (closing success included). */
  attemptsSum: number;
}

/** successes / responses; 1 before the first response. */
export function requestAvailability(c: RecoveryCounts): number {
  return c.requests === 0 ? 1 : c.successes / c.requests;
}

/** 1 − unrecovered / (successes + unrecovered); 1 while both are 0 (nothing reached users yet). */
export function effectiveAvailability(c: RecoveryCounts): number {
  const d = c.successes + c.unrecovered;
  return d === 0 ? 1 : 1 - c.unrecovered / d;
}

/** 1 − unrecovered / ((1 − slo) × (successes + unrecovered)); negative once overspent. */
export function errorBudgetRemaining(c: RecoveryCounts, sloAvailability: number): number {
  const d = c.successes + c.unrecovered;
  return d === 0 ? 1 : 1 - c.unrecovered / ((1 - sloAvailability) * d);
}

/** Mean recovery time of recovered incidents, in seconds; null with none. */
export function mttrSeconds(c: RecoveryCounts): number | null {
  return c.recovered === 0 ? null : c.recoveryMsSum / c.recovered / 1000;
}

/** recovered / (recovered + unrecovered); 1 with no closed incident. */
export function recoveryRate(c: RecoveryCounts): number {
  const closed = c.recovered + c.unrecovered;
  return closed === 0 ? 1 : c.recovered / closed;
}

/** −log10(1 − a), capped at 9, to two decimals (0.999 → 3, not 2.9999999999999996). */
export function nines(a: number): number {
  if (a >= 1) return 9;
  return Math.max(0, Math.min(9, round(-Math.log10(1 - a), 2)));
}

export interface ScoreParts {
  /** clamp((eff − 0.5)/(slo − 0.5), 0, 1) */
  A: number;
  /** min(1, slo_p99 / p99); 1 with no latency data. */
  L: number;
  /** recovery rate × min(1, slo_mttr / mttr); 1 with no incidents. */
  R: number;
  /** 40A + 20L + 40R, to one decimal; the grade is read from this value so the two always agree. */
  score: number;
  grade: Grade;
}

export function scoreParts(
  eff: number,
  p99Ms: number | null,
  c: RecoveryCounts,
  slos: Pick<Slos, 'availability' | 'latency_p99_ms' | 'mttr_s'>,
): ScoreParts {
  const A = Math.min(1, Math.max(0, (eff - 0.5) / (slos.availability - 0.5)));
  const L = p99Ms === null || p99Ms <= 0 ? 1 : Math.min(1, slos.latency_p99_ms / p99Ms);
  let R = 1;
  if (c.incidents > 0) {
    const mttr = mttrSeconds(c);
    R = recoveryRate(c) * (mttr === null || mttr <= 0 ? 1 : Math.min(1, slos.mttr_s / mttr));
  }
  const score = round(40 * A + 20 * L + 40 * R, 1);
  return { A, L, R, score, grade: gradeFor(score) };
}

export function gradeFor(score: number): Grade {
  if (score >= 90) return 'A';
  if (score >= 80) return 'B';
  if (score >= 70) return 'C';
  if (score >= 60) return 'D';
  return 'F';
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const roundOrNull = (x: number | null, digits: number): number | null =>
  x === null ? null : round(x, digits);

/** One report row (SPEC section 8's tool row without its name) from counters, faults and latency. */
export function buildRow(
  c: RecoveryCounts,
  faults: ReadonlyMap<string, number>,
  latency: LatencyHistogram,
  slos: Slos,
): Row {
  // The row judges open incidents as unrecovered; its `unrecovered` column stays the closed ones.
  const judged = c.open > 0 ? { ...c, unrecovered: c.unrecovered + c.open, open: 0 } : c;
  const request = requestAvailability(c);
  const effective = effectiveAvailability(judged);
  const p50 = latency.quantile(0.5);
  const p99 = latency.quantile(0.99);
  const mttr = mttrSeconds(c);
  const { score, grade } = scoreParts(effective, p99, judged, slos);
  return {
    requests: c.requests,
    failures: c.failures,
    faults: Object.fromEntries([...faults].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    availability: { request, effective, nines: nines(effective) },
    latency_ms: { p50: roundOrNull(p50, 2), p99: roundOrNull(p99, 2) },
    incidents: c.incidents,
    recovered: c.recovered,
    unrecovered: c.unrecovered,
    open: c.open,
    recovery_rate: recoveryRate(judged),
    mttr_s: roundOrNull(mttr, 3),
    attempts_mean: c.recovered === 0 ? null : round(c.attemptsSum / c.recovered, 2),
    slo: {
      availability: { target: slos.availability, actual: effective, ok: effective >= slos.availability },
      latency_p99_ms: {
        target: slos.latency_p99_ms,
        actual: roundOrNull(p99, 2),
        ok: p99 === null || p99 <= slos.latency_p99_ms,
      },
      mttr_s: {
        target: slos.mttr_s,
        actual: roundOrNull(mttr, 3),
        // With nothing recovered, the MTTR SLO holds only if nothing went unrecovered either.
        ok: mttr === null ? judged.unrecovered === 0 : mttr <= slos.mttr_s,
      },
    },
    score,
    grade,
    error_budget_remaining: errorBudgetRemaining(judged, slos.availability),
  };
}
