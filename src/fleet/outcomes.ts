import { Counter, type Registry } from 'prom-client';
import type { Config, FleetConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { ExchangeOutcome, OutcomeSink } from '../observe/outcome.js';
import type { Report } from '../observe/report-model.js';
import { RecoveryTracker, type ReportMeta } from '../observe/tracker.js';
import type { Client } from './store.js';

/** The stream keeps about this many exchanges of the whole fleet (see `trimTo`). */
export const STREAM_MAXLEN = 100_000;
const FLUSH_MS = 250;
/** Exchanges per stream entry: one XADD carries a JSON array of up to this many. */
const BATCH = 500;
/** Entries read per XRANGE page by the fleet report. */
const PAGE = 1_000;

export const streamKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:outcomes`;

/**
 * Tees finished exchanges: the local tracker sees each at once; a copy waits in a bounded
 * buffer (`fleet.outcome_buffer`) and every FLUSH_MS the whole buffer goes to the fleet's Redis
 * Stream in one pipeline, BATCH exchanges per entry (a JSON array): one command per 500
 * exchanges instead of one per exchange keeps both this process and Redis cheap at load-test
 * rates. The request never waits for Redis: observe() only pushes onto an array.
 */
export class OutcomeStream implements OutcomeSink {
  private buffer: ExchangeOutcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  /** Exchanges taken by the flush in flight: they count against the bound until sent or put back. */
  private inFlight = 0;
  /** Moving average of exchanges per entry this instance writes (for the trim). */
  private perEntry = 1;
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
    this.timer = setInterval(this.flushNow, FLUSH_MS);
    this.timer.unref();
  }

  observe(o: ExchangeOutcome): void {
    this.local?.observe(o);
    if (this.buffer.length + this.inFlight < this.cfg.outcome_buffer) {
      // A full entry goes at once rather than at the next tick: the records then die young
      // (serialised within milliseconds) instead of surviving scavenges into the old space.
      if (this.buffer.push(o) === BATCH) setImmediate(this.flushNow);
    } else this.dropped.inc();
  }

  private readonly flushNow = (): void => void this.flush();

  async flush(): Promise<void> {
    const client = this.client();
    if (this.flushing || !client?.isReady || this.buffer.length === 0) return;
    this.flushing = true;
    const taken = this.buffer;
    this.buffer = [];
    this.inFlight = taken.length;
    try {
      const pipe = client.multi();
      for (let i = 0; i < taken.length; i += BATCH) {
        const batch = taken.slice(i, i + BATCH);
        this.perEntry += (batch.length - this.perEntry) * 0.1;
        pipe.xAdd(
          streamKey(this.cfg),
          '*',
          { i: this.cfg.instance, n: String(batch.length), o: JSON.stringify(batch) },
          { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: trimTo(this.perEntry) } },
        );
      }
      await pipe.execAsPipeline();
    } catch (err) {
      // Back at the front, as far as the bound allows: the rest is counted as dropped.
      const room = Math.max(0, this.cfg.outcome_buffer - this.buffer.length);
      this.buffer = taken.slice(0, room).concat(this.buffer);
      if (taken.length > room) this.dropped.inc(taken.length - room);
      this.logger.warn({ err: (err as Error).message }, 'fleet: outcome batch not sent, will retry');
    } finally {
      this.inFlight = 0;
      this.flushing = false;
    }
    if (this.buffer.length >= BATCH && client.isReady) setImmediate(this.flushNow);
  }

  /** The last batch gets a bounded chance (`within`): a hung Redis never hangs the shutdown. */
  async close(within: (p: Promise<unknown>) => Promise<void>): Promise<void> {
    clearInterval(this.timer);
    await within(this.flush());
  }
}

/**
 * Entries to keep so the stream holds about STREAM_MAXLEN exchanges, from this instance's
 * average entry size: under load entries carry 500 exchanges (200 entries kept), at a trickle
 * one or two. Each writer trims by its own average, so with instances at different rates the
 * stream holds about, not exactly, STREAM_MAXLEN; it is bounded either way.
 */
export function trimTo(perEntry: number): number {
  return Math.ceil(STREAM_MAXLEN / Math.max(1, perEntry));
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
  // Bounded: the stream is trimmed to about STREAM_MAXLEN exchanges, at least one per entry.
  for (let page = 0; page < Math.ceil(STREAM_MAXLEN / PAGE) + 2; page++) {
    const entries = await client.xRange(streamKey(cfg), start, '+', { COUNT: PAGE });
    for (const e of entries) {
      try {
        const batch = JSON.parse((e.message as Record<string, string>).o!) as ExchangeOutcome[];
        if (Array.isArray(batch)) for (const o of batch) outcomes.push(o);
      } catch {
        // An entry that is not ours: skipped.
      }
    }
    if (entries.length < PAGE) break;
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
