import type { BoundRecovery, MeteredKey } from './recovery-metrics.js';
import { LatencyHistogram } from './tracker-latency.js';
import { RetryWatch } from './tracker-retries.js';
import type { RecoveryCounts } from './tracker-score.js';

/** Counters that sum into roll-ups: one (agent, tool), an agent, or everything. */
export class Totals implements RecoveryCounts {
  requests = 0;
  successes = 0;
  failures = 0;
  incidents = 0;
  recovered = 0;
  unrecovered = 0;
  /** Incidents still open (0 or 1 for one key; summed in roll-ups). */
  open = 0;
  recoveryMsSum = 0;
  attemptsSum = 0;
  readonly faults = new Map<string, number>();
  readonly latency = new LatencyHistogram();

  add(o: Totals): void {
    this.requests += o.requests;
    this.successes += o.successes;
    this.failures += o.failures;
    this.incidents += o.incidents;
    this.recovered += o.recovered;
    this.unrecovered += o.unrecovered;
    this.open += o.open;
    this.recoveryMsSum += o.recoveryMsSum;
    this.attemptsSum += o.attemptsSum;
    for (const [type, n] of o.faults) this.faults.set(type, (this.faults.get(type) ?? 0) + n);
    this.latency.merge(o.latency);
  }
}

/** Everything the tracker keeps for one (agent, tool), both label values already capped. */
export class KeyState extends Totals implements MeteredKey {
  /** The open incident, if any (`open` is 1): when it opened and how many requests it has seen. */
  openAt = 0;
  attempts = 0;
  /** Unrecovered incidents closed by `closeAll()` (the agent exited) rather than by the window. */
  closedAtExit = 0;
  readonly watch = new RetryWatch();

  constructor(
    readonly agent: string,
    readonly tool: string,
    readonly metrics: BoundRecovery | undefined,
  ) {
    super();
  }
}
