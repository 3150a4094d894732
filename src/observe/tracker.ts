/**
 * The recovery tracker (SPEC section 5): per (agent, tool) it classifies finished exchanges,
 * opens and closes incidents, detects retries and keeps what the report and the recovery
 * metrics need, in memory bounded by the label cap whatever the traffic.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { LabelCap } from './labels.js';
import type { ExchangeOutcome, OutcomeSink } from './outcome.js';
import type { MetricsDetail } from './exposition.js';
import { type RecoveryKind, RecoveryMetrics, type RecoverySource } from './recovery-metrics.js';
import type { Report } from './report-model.js';
import { KeyState } from './tracker-key.js';
import { buildReport, type ReportMeta } from './tracker-report.js';
import { TimelineRing } from './tracker-timeline.js';

export type { ReportMeta } from './tracker-report.js';

export interface RecoveryTrackerOptions {
  slos: Config['slos'];
  /** Only `name` and `fallback_for` are read. */
  tools: readonly Pick<Config['tools'][number], 'name' | 'fallback_for'>[];
  /** Distinct agents (and, separately, tools) kept apart; the rest share the label `other`. */
  maxLabelValues: number;
  /** Where the recovery metrics are registered (the instance's registry); none without it. */
  registry?: Registry;
  /** The grain of the recovery histograms and gauges (`metrics.detail`); default full. */
  metricsDetail?: MetricsDetail;
  /** Epoch ms; defaults to Date.now. */
  now?: () => number;
  /** Timeline events kept (a ring); default 5,000. */
  timelineSize?: number;
  /**
   * How often overdue incidents expire without traffic. Default: window/10 clamped to 50 ms..1 s
   * with the real clock, 0 (no timer: call `sweep()`) when `now` is injected.
   */
  sweepIntervalMs?: number;
  /** The instance's own label caps, so the tracker and the request metrics name overflow alike. */
  labelCaps?: { agents: LabelCap; tools: LabelCap };
}

export const DEFAULT_TIMELINE_SIZE = 5000;

/** tool -> the tools it is a fallback for. */
function fallbackMap(tools: RecoveryTrackerOptions['tools']): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const t of tools) if (t.fallback_for.length > 0) map.set(t.name, [...t.fallback_for]);
  return map;
}

function failureDetail(o: ExchangeOutcome): string {
  return o.status > 0 ? String(o.status) : (o.failure ?? 'failure');
}

export class RecoveryTracker implements OutcomeSink {
  private slos: Config['slos'];
  private windowMs: number;
  private fallbacks: Map<string, readonly string[]>;
  private readonly agentCap: LabelCap;
  private readonly toolCap: LabelCap;
  private readonly keys = new Map<string, Map<string, KeyState>>();
  private keyCount = 0;
  /** Keys with an open incident or a broken response awaiting its next request: what the sweep visits. */
  private readonly active = new Set<KeyState>();
  private readonly timeline: TimelineRing;
  private readonly metrics: RecoveryMetrics | undefined;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number | undefined;
  private readonly injectedClock: boolean;
  private timer: NodeJS.Timeout | undefined;
  private firstStart = Number.POSITIVE_INFINITY;
  private lastEnd = Number.NEGATIVE_INFINITY;

  constructor(opts: RecoveryTrackerOptions) {
    this.slos = opts.slos;
    this.windowMs = opts.slos.recovery_window_s * 1000;
    this.fallbacks = fallbackMap(opts.tools);
    this.agentCap = opts.labelCaps?.agents ?? new LabelCap(opts.maxLabelValues);
    this.toolCap = opts.labelCaps?.tools ?? new LabelCap(opts.maxLabelValues);
    this.timeline = new TimelineRing(opts.timelineSize ?? DEFAULT_TIMELINE_SIZE);
    this.now = opts.now ?? (() => Date.now());
    this.injectedClock = opts.now !== undefined;
    this.sweepIntervalMs = opts.sweepIntervalMs;
    this.metrics = opts.registry
      ? new RecoveryMetrics(opts.registry, this.gaugeSource(), opts.metricsDetail)
      : undefined;
    this.schedule();
  }

  /** Keys held: at most (maxLabelValues + 1)² whatever the traffic. */
  get size(): number {
    return this.keyCount;
  }

  observe(o: ExchangeOutcome): void {
    const agent = this.agentCap.get(o.agent);
    const k = this.key(agent, this.toolCap.get(o.tool));
    if (o.startedAt < this.firstStart) this.firstStart = o.startedAt;
    if (o.endedAt > this.lastEnd) this.lastEnd = o.endedAt;
    k.requests++;
    k.latency.add(o.endedAt - o.startedAt);
    // Time moves with the outcomes too, so expiry never waits for the sweep to be exact.
    if (k.open && o.endedAt - k.openAt > this.windowMs) this.expire(k, k.openAt + this.windowMs);
    k.watch.judge(o, this.windowMs);
    k.watch.remember(o);
    if (o.success) {
      k.successes++;
      this.timeline.push(o.endedAt, agent, k.tool, 'request');
      if (k.open) this.recover(k, o.endedAt, 'retry');
      const targets = this.fallbacks.get(o.tool);
      if (targets) this.fallback(agent, k, targets, o.endedAt);
    } else {
      k.failures++;
      this.timeline.push(o.endedAt, agent, k.tool, 'failure', failureDetail(o));
      if (k.open) k.attempts++;
      else this.openIncident(k, o.endedAt);
    }
    const injected = o.injected;
    for (let i = 0; i < injected.length; i++) {
      const type = injected[i]!;
      k.faults.set(type, (k.faults.get(type) ?? 0) + 1);
      this.timeline.push(o.endedAt, agent, k.tool, 'fault', type);
    }
    if (k.open || k.watch.waiting) this.active.add(k);
  }

  /** Expires incidents and broken responses whose window ended by `now`. The timer calls it. */
  sweep(now: number = this.now()): void {
    for (const k of this.active) {
      if (k.open && now - k.openAt > this.windowMs) this.expire(k, k.openAt + this.windowMs);
      k.watch.expire(now, this.windowMs);
      if (!k.open && !k.watch.waiting) this.active.delete(k);
    }
  }

  /**
   * The agent is gone (`faultgate run`'s command exited): every open incident closes as
   * unrecovered at `at`, and every broken response still waiting for its next request was
   * accepted, since none will come. Later traffic (another agent, a reused name) starts afresh.
   */
  closeAll(at: number = this.now()): void {
    for (const k of this.active) {
      if (k.open) {
        if (at <= k.openAt + this.windowMs) k.closedAtExit++;
        this.expire(k, Math.min(at, k.openAt + this.windowMs));
      }
      k.watch.expire(Number.POSITIVE_INFINITY, this.windowMs);
      this.active.delete(k);
    }
  }

  /** Applies a reloaded config's SLOs and fallbacks; open incidents keep their open time. */
  reconfigure(cfg: Pick<RecoveryTrackerOptions, 'slos' | 'tools'>): void {
    this.slos = cfg.slos;
    this.windowMs = cfg.slos.recovery_window_s * 1000;
    this.fallbacks = fallbackMap(cfg.tools);
    this.schedule();
  }

  report(meta: ReportMeta): Report {
    const now = this.now();
    this.sweep(now);
    return buildReport({
      keys: this.keys,
      slos: this.slos,
      span: this.keyCount > 0 ? { from: this.firstStart, to: this.lastEnd } : null,
      timeline: this.timeline.events(),
      generatedAt: new Date(now),
      meta,
    });
  }

  /** Stops the sweep timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.close();
    const interval =
      this.sweepIntervalMs ?? (this.injectedClock ? 0 : Math.min(1000, Math.max(50, this.windowMs / 10)));
    if (interval <= 0) return;
    this.timer = setInterval(() => this.sweep(), interval);
    this.timer.unref(); // expiry is bookkeeping: it must never keep the process alive
  }

  private key(agent: string, tool: string): KeyState {
    let tools = this.keys.get(agent);
    if (!tools) {
      tools = new Map();
      this.keys.set(agent, tools);
    }
    let k = tools.get(tool);
    if (!k) {
      k = new KeyState(agent, tool, this.metrics?.bind(agent, tool));
      tools.set(tool, k);
      this.keyCount++;
    }
    return k;
  }

  private openIncident(k: KeyState, at: number): void {
    k.open = 1;
    k.openAt = at;
    k.attempts = 1;
    k.incidents++;
    k.metrics?.opened();
    this.timeline.push(at, k.agent, k.tool, 'incident_open');
  }

  private recover(k: KeyState, at: number, kind: RecoveryKind): void {
    const attempts = k.attempts + 1; // the closing success is an attempt too
    const ms = Math.max(0, at - k.openAt);
    k.open = 0;
    k.recovered++;
    k.recoveryMsSum += ms;
    k.attemptsSum += attempts;
    k.metrics?.recovered(kind, ms / 1000, attempts);
    this.timeline.push(at, k.agent, k.tool, 'recovered', kind);
  }

  private expire(k: KeyState, at: number): void {
    k.open = 0;
    k.unrecovered++;
    k.metrics?.unrecovered();
    this.timeline.push(at, k.agent, k.tool, 'unrecovered');
  }

  /** A success for a fallback tool closes the same agent's open incidents on the tools it stands in for. */
  private fallback(agent: string, k: KeyState, targets: readonly string[], at: number): void {
    const tools = this.keys.get(agent)!;
    for (const name of targets) {
      const t = tools.get(name);
      if (!t || t === k || !t.open) continue;
      if (at - t.openAt > this.windowMs) this.expire(t, t.openAt + this.windowMs);
      else this.recover(t, at, 'fallback');
    }
  }

  private gaugeSource(): RecoverySource {
    return {
      refresh: () => this.sweep(),
      sloAvailability: () => this.slos.availability,
      forEachKey: (fn) => {
        for (const tools of this.keys.values()) for (const k of tools.values()) fn(k);
      },
    };
  }
}
