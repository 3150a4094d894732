/**
 * The recovery metrics of SPEC section 6. Counters and histograms move only when an incident
 * opens, closes or expires (never per request); the gauges are computed from the tracker's
 * counters when Prometheus scrapes, so the request path pays nothing for them.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
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

type Labels = { agent: string; tool: string };

/** One (agent, tool)'s bound children and label objects, made once when the key first appears. */
export interface BoundRecovery {
  opened(): void;
  unrecovered(): void;
  recovered(kind: RecoveryKind, seconds: number, attempts: number): void;
  readonly labels: Labels;
  readonly requestLabels: Labels & { kind: 'request' };
  readonly effectiveLabels: Labels & { kind: 'effective' };
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

export class RecoveryMetrics {
  private readonly incidents: Counter<'agent' | 'tool'>;
  private readonly unrecoveredTotal: Counter<'agent' | 'tool'>;
  private readonly recoveries: Counter<'agent' | 'tool' | 'kind'>;
  private readonly seconds: Histogram<'agent' | 'tool'>;
  private readonly attempts: Histogram<'agent' | 'tool'>;

  constructor(registry: Registry, source: RecoverySource) {
    const registers = [registry];
    // Every recovery metric brings the tracker up to date when collected, so an incident that
    // expired since the last request is counted in this scrape (sweeping an idle tracker is free).
    const collect = (): void => source.refresh();
    this.incidents = new Counter({
      name: 'faultgate_incidents_total',
      help: 'Incidents opened: a failure for an (agent, tool) while none was open',
      labelNames: ['agent', 'tool'],
      registers,
      collect,
    });
    this.unrecoveredTotal = new Counter({
      name: 'faultgate_unrecovered_incidents_total',
      help: 'Incidents with no success for the tool (or a fallback) within recovery_window_s',
      labelNames: ['agent', 'tool'],
      registers,
      collect,
    });
    this.recoveries = new Counter({
      name: 'faultgate_recoveries_total',
      help: 'Incidents closed by a success for the tool (retry) or for a tool declaring it in fallback_for (fallback)',
      labelNames: ['agent', 'tool', 'kind'],
      registers,
      collect,
    });
    this.seconds = new Histogram({
      name: 'faultgate_recovery_seconds',
      help: 'Recovery time of recovered incidents: closing success end - first failure end',
      labelNames: ['agent', 'tool'],
      buckets: recoverySecondsBuckets,
      registers,
      collect,
    });
    this.attempts = new Histogram({
      name: 'faultgate_recovery_attempts',
      help: 'Requests in a recovered incident, the closing success included (fail, fail, success = 3)',
      labelNames: ['agent', 'tool'],
      buckets: recoveryAttemptsBuckets,
      registers,
      collect,
    });
    this.createGauges(registers, source);
  }

  private createGauges(registers: Registry[], source: RecoverySource): void {
    const mttr: Gauge<'agent' | 'tool'> = new Gauge({
      name: 'faultgate_mttr_seconds',
      help: 'Mean recovery time of recovered incidents (absent until one recovers)',
      labelNames: ['agent', 'tool'],
      registers,
      collect: () => {
        source.refresh();
        source.forEachKey((k) => {
          const v = mttrSeconds(k);
          if (v !== null && k.metrics) mttr.set(k.metrics.labels, v);
        });
      },
    });
    const availability: Gauge<'agent' | 'tool' | 'kind'> = new Gauge({
      name: 'faultgate_availability_ratio',
      help: 'request: successes / responses; effective: 1 - unrecovered / (successes + unrecovered)',
      labelNames: ['agent', 'tool', 'kind'],
      registers,
      collect: () => {
        source.refresh();
        source.forEachKey((k) => {
          if (!k.metrics) return;
          availability.set(k.metrics.requestLabels, requestAvailability(k));
          availability.set(k.metrics.effectiveLabels, effectiveAvailability(k));
        });
      },
    });
    const budget: Gauge<'agent' | 'tool'> = new Gauge({
      name: 'faultgate_error_budget_remaining_ratio',
      help: '1 - unrecovered / ((1 - slo.availability) * (successes + unrecovered)); negative when overspent',
      labelNames: ['agent', 'tool'],
      registers,
      collect: () => {
        source.refresh();
        const slo = source.sloAvailability();
        source.forEachKey((k) => {
          if (k.metrics) budget.set(k.metrics.labels, errorBudgetRemaining(k, slo));
        });
      },
    });
  }

  /** Binds the children of one (agent, tool); label values are already capped by the caller. */
  bind(agent: string, tool: string): BoundRecovery {
    const incidents = this.incidents.labels(agent, tool);
    const unrecovered = this.unrecoveredTotal.labels(agent, tool);
    const retry = this.recoveries.labels(agent, tool, 'retry');
    const fallback = this.recoveries.labels(agent, tool, 'fallback');
    const seconds = this.seconds.labels(agent, tool);
    const attempts = this.attempts.labels(agent, tool);
    return {
      opened: () => incidents.inc(),
      unrecovered: () => unrecovered.inc(),
      recovered: (kind, s, n) => {
        (kind === 'retry' ? retry : fallback).inc();
        seconds.observe(s);
        attempts.observe(n);
      },
      labels: { agent, tool },
      requestLabels: { agent, tool, kind: 'request' },
      effectiveLabels: { agent, tool, kind: 'effective' },
    };
  }
}
