import { Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import {
  CounterFamily,
  type CounterSeries,
  foldKey,
  HistogramFamily,
  type HistogramSeries,
  LabelSet,
  type MetricsDetail,
  MetricsRegistry,
} from './exposition.js';
import { createFaultStats, type FaultStats } from './fault-stats.js';
import { LabelCap } from './labels.js';

/** Buckets for agent traffic: a cached tool answers in a millisecond, an LLM stream in minutes. */
export const durationBuckets = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** prom-client default metrics that are gauges named `_total`: left out of the scrape. */
const totalGauges = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export type UpstreamErrorKind = 'connect' | 'reset' | 'timeout' | 'status';

/**
 * One (agent, tool)'s series, in plain numbers: the request path adds to a field and never
 * hashes a label set (see exposition.ts). `duration` may be shared with other keys at a coarser
 * `metrics.detail`.
 */
export interface ExchangeStats {
  readonly success: CounterSeries;
  readonly failure: CounterSeries;
  readonly injectedSuccess: CounterSeries;
  readonly injectedFailure: CounterSeries;
  readonly duration: HistogramSeries;
}

/**
 * The instance's own prom-client registry (never the global one), so two faultgate instances
 * in one process, as in tests, never share a counter.
 */
export type { FaultStats };

export class Metrics {
  readonly registry: Registry = new MetricsRegistry();
  private readonly requests: CounterFamily;
  private readonly duration: HistogramFamily;
  private readonly upstreamErrors: Counter<'tool' | 'kind'>;
  /** Shared with the recovery tracker, so both fold the same agents and tools into `other`. */
  readonly agents: LabelCap;
  readonly tools: LabelCap;
  private readonly byAgent = new Map<string, Map<string, ExchangeStats>>();
  readonly faults: FaultStats;
  /** 1 while a chaos session runs, by session name (SPEC section 6). */
  readonly sessionActive: Gauge<'session'>;
  /** Sessions stopped by a safety rule, by session name and reason. */
  readonly safetyAborts: Counter<'session' | 'reason'>;
  readonly sessionAborts: Counter<'session' | 'reason'>;
  /** Hot reloads by result: ok (swapped in) or rejected (the running config stays). */
  readonly configReloads: Counter<'result'>;

  constructor(
    private readonly maxLabelValues: number,
    /** The grain of the duration histogram (and of the tracker's, which gets it from here). */
    readonly detail: MetricsDetail = 'full',
  ) {
    this.agents = new LabelCap(maxLabelValues);
    this.tools = new LabelCap(maxLabelValues);
    const registers = [this.registry];
    this.requests = new CounterFamily(
      'faultgate_requests_total',
      'Finished exchanges by agent, tool, outcome (success|failure) and whether a fault was injected',
    ).register(this.registry);
    this.duration = new HistogramFamily(
      'faultgate_request_duration_seconds',
      'Time from request start to the end of the response as the client saw it',
      durationBuckets,
    ).register(this.registry);
    this.upstreamErrors = new Counter({
      name: 'faultgate_upstream_errors_total',
      help: 'Real (not injected) upstream failures by tool and kind (connect|reset|timeout|status)',
      labelNames: ['tool', 'kind'],
      registers,
    });
    this.faults = createFaultStats(this.registry, this.agents, this.tools, this.maxLabelValues);
    this.sessionActive = new Gauge({
      name: 'faultgate_session_active',
      help: '1 while the chaos session runs, 0 once it stopped, aborted or completed',
      labelNames: ['session'],
      registers,
    });
    this.safetyAborts = new Counter({
      name: 'faultgate_safety_aborts_total',
      help: 'Chaos sessions aborted by a safety rule, by session and reason',
      labelNames: ['session', 'reason'],
      registers,
    });
    this.sessionAborts = new Counter({
      name: 'faultgate_session_aborts_total',
      help: 'Chaos sessions ended before a stop, by session and who ended them: operator, max_affected, cascade, blast_radius or duration',
      labelNames: ['session', 'reason'],
      registers,
    });
    this.configReloads = new Counter({
      name: 'faultgate_config_reloads_total',
      help: 'Config reloads (file change, SIGHUP, POST /api/v1/reload) by result: ok or rejected',
      labelNames: ['result'],
      registers,
    });
    // Both series exist from the start, so an alert on `rejected` works before the first reload.
    this.configReloads.labels('ok').inc(0);
    this.configReloads.labels('rejected').inc(0);
    // prom-client's standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`),
    // so stock Node.js dashboards work. Its three `_total` gauges break the naming rule promtool
    // checks (`_total` is for counters); `nodejs_active_handles{type}` and friends carry the
    // same numbers per type, summable in PromQL.
    collectDefaultMetrics({ register: this.registry });
    for (const name of totalGauges) this.registry.removeSingleMetric(name);
  }

  /** The series of (agent, tool); maps are keyed by capped values, so they stay bounded. */
  exchange(agent: string, tool: string): ExchangeStats {
    const a = this.agents.get(agent);
    const t = this.tools.get(tool);
    let tools = this.byAgent.get(a);
    if (!tools) {
      tools = new Map();
      this.byAgent.set(a, tools);
    }
    let stats = tools.get(t);
    if (!stats) {
      stats = this.createStats(a, t);
      tools.set(t, stats);
    }
    return stats;
  }

  private createStats(agent: string, tool: string): ExchangeStats {
    const series = (outcome: string, injected: string) =>
      this.requests.add(new LabelSet({ agent, tool, outcome, injected }));
    const [hAgent, hTool] = foldKey(this.detail, agent, tool);
    return {
      success: series('success', 'false'),
      failure: series('failure', 'false'),
      injectedSuccess: series('success', 'true'),
      injectedFailure: series('failure', 'true'),
      duration: this.duration.series({ agent: hAgent, tool: hTool }),
    };
  }

  /** Told of every real upstream failure (the chaos engine's cascade detection). */
  upstreamErrorListener: ((tool: string, kind: UpstreamErrorKind) => void) | undefined;

  upstreamError(tool: string, kind: UpstreamErrorKind): void {
    this.upstreamErrorListener?.(tool, kind);
    this.upstreamErrors.labels(this.tools.get(tool), kind).inc();
  }
}
