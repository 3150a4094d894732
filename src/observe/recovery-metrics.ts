/**
 * The recovery metrics of SPEC section 6. Counters and histograms move only when an incident
 * opens, closes or expires (never per request); the gauges are computed from the tracker's
 * counters when Prometheus scrapes, so the request path pays nothing for them.
 */
import type { Registry } from 'prom-client';
import {
  ComputedFamily,
  CounterFamily,
  foldKey,
  HistogramFamily,
  type HistogramSeries,
  LabelSet,
  type MetricsDetail,
  type Sample,
} from './exposition.js';
import {
  effectiveAvailability,
  errorBudgetRemaining,
  mttrSeconds,
  type RecoveryCounts,
  requestAvailability,
} from './tracker-score.js';

/** From a quick retry (50 ms) to an agent that needs minutes; 10 min is past any sane window. */
export const recoverySecondsBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
/** Requests per recovered incident, closing success included: 2 is "one retry worked". */
export const recoveryAttemptsBuckets = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50];

export type RecoveryKind = 'retry' | 'fallback';

/** One (agent, tool)'s series, made once when the key first appears. */
export interface BoundRecovery {
  opened(): void;
  unrecovered(): void;
  recovered(kind: RecoveryKind, seconds: number, attempts: number): void;
  /** The labels of its gauges: the key's own, or the folded key's at a coarser detail. */
  readonly gauge: GaugeKey;
}

/** The label sets of one gauge row (one per (agent, tool), or per folded key). */
export interface GaugeKey {
  readonly set: LabelSet;
  readonly request: LabelSet;
  readonly effective: LabelSet;
}

/** A key as the gauges read it. */
export interface MeteredKey extends RecoveryCounts {
  readonly metrics: BoundRecovery | undefined;
}

/** What the scrape-time gauges read. */
export interface RecoverySource {
  /** Brings the state up to date (expires overdue incidents) before it is read. */
  refresh(): void;
  sloAvailability(): number;
  forEachKey(fn: (key: MeteredKey) => void): void;
}

type Counts = Pick<RecoveryCounts, 'requests' | 'successes' | 'unrecovered' | 'recovered' | 'recoveryMsSum'>;

export class RecoveryMetrics {
  private readonly incidents: CounterFamily;
  private readonly unrecoveredTotal: CounterFamily;
  private readonly recoveries: CounterFamily;
  private readonly seconds: HistogramFamily;
  private readonly attempts: HistogramFamily;
  private readonly gaugeKeys = new Map<string, GaugeKey>();
  /** The summed counters of the last scrape: its three gauge families share one pass. */
  private sums: { scrape: number; rows: Map<GaugeKey, Counts> } | undefined;

  constructor(
    registry: Registry,
    private readonly source: RecoverySource,
    private readonly detail: MetricsDetail = 'full',
  ) {
    // Every recovery family brings the tracker up to date when scraped, so an incident that
    // expired since the last request counts in this scrape (sweeping an idle tracker is free).
    const refresh = (): void => source.refresh();
    this.incidents = new CounterFamily(
      'faultgate_incidents_total',
      'Incidents opened: a failure for an (agent, tool) while none was open',
    ).register(registry, refresh);
    this.unrecoveredTotal = new CounterFamily(
      'faultgate_unrecovered_incidents_total',
      'Incidents with no success for the tool (or a fallback) within recovery_window_s',
    ).register(registry, refresh);
    this.recoveries = new CounterFamily(
      'faultgate_recoveries_total',
      'Incidents closed by a success for the tool (retry) or for a tool declaring it in fallback_for (fallback)',
    ).register(registry, refresh);
    this.seconds = new HistogramFamily(
      'faultgate_recovery_seconds',
      'Recovery time of recovered incidents: closing success end - first failure end',
      recoverySecondsBuckets,
    ).register(registry, refresh);
    this.attempts = new HistogramFamily(
      'faultgate_recovery_attempts',
      'Requests in a recovered incident, the closing success included (fail, fail, success = 3)',
      recoveryAttemptsBuckets,
    ).register(registry, refresh);
    this.createGauges(registry);
  }

  /** The gauges are computed from the tracker's counters when scraped; nothing is stored. */
  private createGauges(registry: Registry): void {
    new ComputedFamily(
      'faultgate_mttr_seconds',
      'Mean recovery time of recovered incidents (absent until one recovers)',
      (scrape) =>
        this.gaugeSamples(scrape, (g, c) => {
          const v = mttrSeconds(c as RecoveryCounts);
          return v === null ? [] : [{ suffix: '', set: g.set, value: v }];
        }),
    ).register(registry);
    new ComputedFamily(
      'faultgate_availability_ratio',
      'request: successes / responses; effective: 1 - unrecovered / (successes + unrecovered)',
      (scrape) =>
        this.gaugeSamples(scrape, (g, c) => [
          { suffix: '', set: g.request, value: requestAvailability(c as RecoveryCounts) },
          { suffix: '', set: g.effective, value: effectiveAvailability(c as RecoveryCounts) },
        ]),
    ).register(registry);
    new ComputedFamily(
      'faultgate_error_budget_remaining_ratio',
      '1 - unrecovered / ((1 - slo.availability) * (successes + unrecovered)); negative when overspent',
      (scrape) => {
        const slo = this.source.sloAvailability();
        return this.gaugeSamples(scrape, (g, c) => [
          { suffix: '', set: g.set, value: errorBudgetRemaining(c as RecoveryCounts, slo) },
        ]);
      },
    ).register(registry);
  }

  /** Maps each gauge key's summed counters to its samples. */
  private gaugeSamples(scrape: number, row: (g: GaugeKey, c: Counts) => Sample[]): Sample[] {
    const out: Sample[] = [];
    for (const [g, c] of this.gaugeSums(scrape)) for (const s of row(g, c)) out.push(s);
    return out;
  }

  /**
   * The keys' counters summed per gauge key (one key each at full detail). The gauge families
   * of one MetricsRegistry scrape share one pass over every key (10,000 at 200 agents x 50
   * tools); any other caller (`scrape` -1) gets a fresh pass.
   */
  private gaugeSums(scrape: number): Map<GaugeKey, Counts> {
    if (scrape >= 0 && this.sums?.scrape === scrape) return this.sums.rows;
    this.source.refresh();
    const sums = new Map<GaugeKey, Counts>();
    this.source.forEachKey((k) => {
      if (!k.metrics) return;
      const g = k.metrics.gauge;
      const c = sums.get(g);
      if (!c) {
        sums.set(g, pick(k));
        return;
      }
      c.requests += k.requests;
      c.successes += k.successes;
      c.unrecovered += k.unrecovered;
      c.recovered += k.recovered;
      c.recoveryMsSum += k.recoveryMsSum;
    });
    this.sums = scrape >= 0 ? { scrape, rows: sums } : undefined;
    return sums;
  }

  private gaugeKey(agent: string, tool: string): GaugeKey {
    const [a, t] = foldKey(this.detail, agent, tool);
    const key = `${a}\u0000${t}`;
    let g = this.gaugeKeys.get(key);
    if (!g) {
      g = {
        set: new LabelSet({ agent: a, tool: t }),
        request: new LabelSet({ agent: a, tool: t, kind: 'request' }),
        effective: new LabelSet({ agent: a, tool: t, kind: 'effective' }),
      };
      this.gaugeKeys.set(key, g);
    }
    return g;
  }

  /** Binds the series of one (agent, tool); label values are already capped by the caller. */
  bind(agent: string, tool: string): BoundRecovery {
    const labels = new LabelSet({ agent, tool });
    const incidents = this.incidents.add(labels);
    const unrecovered = this.unrecoveredTotal.add(labels);
    const retry = this.recoveries.add(new LabelSet({ agent, tool, kind: 'retry' }));
    const fallback = this.recoveries.add(new LabelSet({ agent, tool, kind: 'fallback' }));
    const [hAgent, hTool] = foldKey(this.detail, agent, tool);
    const seconds: HistogramSeries = this.seconds.series({ agent: hAgent, tool: hTool });
    const attempts: HistogramSeries = this.attempts.series({ agent: hAgent, tool: hTool });
    return {
      opened: () => incidents.inc(),
      unrecovered: () => unrecovered.inc(),
      recovered: (kind, s, n) => {
        (kind === 'retry' ? retry : fallback).inc();
        seconds.observe(s);
        attempts.observe(n);
      },
      gauge: this.gaugeKey(agent, tool),
    };
  }
}

function pick(k: Counts): Counts {
  return {
    requests: k.requests,
    successes: k.successes,
    unrecovered: k.unrecovered,
    recovered: k.recovered,
    recoveryMsSum: k.recoveryMsSum,
  };
}
