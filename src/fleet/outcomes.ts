import { Counter, type Registry } from 'prom-client';
import type { Config, FleetConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { ExchangeOutcome, OutcomeSink } from '../observe/outcome.js';
import type { Report } from '../observe/report-model.js';
import { RecoveryTracker, type ReportMeta } from '../observe/tracker.js';
import type { Client } from './store.js';

/** The stream keeps about this many exchanges of the whole fleet (XADD MAXLEN ~). */
export const STREAM_MAXLEN = 100_000;
const FLUSH_MS = 250;
const BATCH = 500;

export const streamKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:outcomes`;

/**
 * Tees finished exchanges: the local tracker sees each at once; a copy waits in a bounded
 * buffer (`fleet.outcome_buffer`) and reaches the fleet's Redis Stream in batches every FLUSH_MS. The request never
 * waits for Redis: observe() only pushes onto an array.
 */
export class OutcomeStream implements OutcomeSink {
  private buffer: ExchangeOutcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private readonly dropped: Counter;

  constructor(
    private readonly cfg: FleetConfig,
    private readonly local: OutcomeSink | undefined,
    private readonly client: () => Client | undefined,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.dropped = new Counter({
      name: 'faultgate_fleet_outcomes_dropped_total',
      help: 'Finished exchanges not sent to the fleet stream: the buffer was full (Redis down or slow)',
      registers: [registry],
    });
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  observe(o: ExchangeOutcome): void {
    this.local?.observe(o);
    if (this.buffer.length < this.cfg.outcome_buffer) this.buffer.push(o);
    else this.dropped.inc();
  }

  async flush(): Promise<void> {
    const client = this.client();
    if (this.flushing || !client?.isReady || this.buffer.length === 0) return;
    this.flushing = true;
    const batch = this.buffer.splice(0, BATCH);
    try {
      const pipe = client.multi();
      for (const o of batch) {
        pipe.xAdd(
          streamKey(this.cfg),
          '*',
          { i: this.cfg.instance, o: JSON.stringify(o) },
          { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: STREAM_MAXLEN } },
        );
      }
      await pipe.execAsPipeline();
    } catch (err) {
      // Back at the front, as far as the bound allows: the rest is counted as dropped.
      const room = this.cfg.outcome_buffer - this.buffer.length;
      this.buffer.unshift(...batch.slice(0, room));
      if (batch.length > room) this.dropped.inc(batch.length - room);
      this.logger.warn({ err: (err as Error).message }, 'fleet: outcome batch not sent, will retry');
    } finally {
      this.flushing = false;
    }
  }

  /** The last batch gets a bounded chance (`within`): a hung Redis never hangs the shutdown. */
  async close(within: (p: Promise<unknown>) => Promise<void>): Promise<void> {
    clearInterval(this.timer);
    await within(this.flush());
  }
}

/**
 * The fleet report: every exchange in the stream, in time order, folded through a fresh
 * tracker (the same code as an instance's own report), so a failure through one instance and
 * its retry through another are one recovered incident.
 */
export async function fleetReport(
  client: Client,
  cfg: FleetConfig,
  config: Config,
  meta: ReportMeta,
): Promise<Report> {
  const outcomes: ExchangeOutcome[] = [];
  let start = '-';
  for (let page = 0; page < Math.ceil(STREAM_MAXLEN / 10_000) + 2; page++) {
    const entries = await client.xRange(streamKey(cfg), start, '+', { COUNT: 10_000 });
    for (const e of entries) {
      try {
        outcomes.push(JSON.parse((e.message as Record<string, string>).o!) as ExchangeOutcome);
      } catch {
        // An entry that is not ours: skipped.
      }
    }
    if (entries.length < 10_000) break;
    start = `(${entries[entries.length - 1]!.id}`;
  }
  outcomes.sort((a, b) => a.endedAt - b.endedAt);
  const now = Date.now();
  const tracker = new RecoveryTracker({
    slos: config.slos,
    tools: config.tools,
    maxLabelValues: config.limits.max_label_values,
    now: () => now,
    sweepIntervalMs: 0,
  });
  for (const o of outcomes) tracker.observe(o);
  const report = tracker.report(meta);
  tracker.close();
  return report;
}
