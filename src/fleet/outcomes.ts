import { Counter, type Registry } from 'prom-client';
import type { Config, FleetConfig } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { ExchangeOutcome, OutcomeSink } from '../observe/outcome.js';
import type { Report } from '../observe/report-model.js';
import { RecoveryTracker, type ReportMeta } from '../observe/tracker.js';
import {
  decodeEntry,
  EntryFormatError,
  EntryWriter,
  FORMAT,
  type SealedEntry,
  truncate,
} from './outcome-codec.js';
import type { Client } from './store.js';

/** The stream keeps about this many exchanges of the whole fleet (see `trimTo`). */
export const STREAM_MAXLEN = 100_000;
const FLUSH_MS = 250;
/** Exchanges per stream entry: one XADD carries up to this many (outcome-codec.ts). */
const BATCH = 500;
/** Entries read per XRANGE page by the fleet report. */
const PAGE = 1_000;

export const streamKey = (cfg: FleetConfig): string => `faultgate:${cfg.name}:outcomes`;

/**
 * Tees finished exchanges: the local tracker sees each at once; a copy is written into the
 * current stream entry (outcome-codec.ts: one line of numbers, no object kept, no JSON per
 * exchange), bounded by `fleet.outcome_buffer` exchanges. An entry is sealed at BATCH
 * exchanges and sent at once; every FLUSH_MS whatever is waiting goes to the fleet's Redis
 * Stream in one pipeline. The request never waits for Redis: observe() only writes bytes.
 */
export class OutcomeStream implements OutcomeSink {
  private writer = new EntryWriter();
  /** Sealed entries waiting for the next flush, oldest first. */
  private sealed: SealedEntry[] = [];
  /** Exchanges held: in `sealed` and in `writer`. */
  private held = 0;
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
    if (this.held + this.inFlight >= this.cfg.outcome_buffer) {
      this.dropped.inc();
      return;
    }
    this.writer.add(o);
    this.held++;
    // A full entry goes at once rather than at the next tick.
    if (this.writer.rows === BATCH) {
      this.seal();
      setImmediate(this.flushNow);
    }
  }

  private seal(): void {
    this.sealed.push(this.writer.seal());
    this.writer = new EntryWriter();
  }

  private readonly flushNow = (): void => void this.flush();

  async flush(): Promise<void> {
    const client = this.client();
    if (this.flushing || !client?.isReady || this.held === 0) return;
    this.flushing = true;
    if (this.writer.rows > 0) this.seal();
    const taken = this.sealed;
    this.sealed = [];
    this.inFlight = this.held;
    this.held = 0;
    try {
      const pipe = client.multi();
      const key = streamKey(this.cfg);
      for (const e of taken) {
        this.perEntry += (e.n - this.perEntry) * 0.1;
        pipe.xAdd(
          key,
          '*',
          { v: FORMAT, i: this.cfg.instance, n: String(e.n), b: e.b, d: e.d, o: e.o },
          { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: trimTo(this.perEntry) } },
        );
      }
      await pipe.execAsPipeline();
    } catch (err) {
      this.putBack(taken);
      this.logger.warn({ err: (err as Error).message }, 'fleet: outcome batch not sent, will retry');
    } finally {
      this.inFlight = 0;
      this.flushing = false;
    }
    if (this.sealed.length > 0 && client.isReady) setImmediate(this.flushNow);
  }

  /** A failed send goes back before what came in meanwhile, as far as the bound allows; the rest is counted as dropped. */
  private putBack(taken: SealedEntry[]): void {
    let room = Math.max(0, this.cfg.outcome_buffer - this.held);
    const back: SealedEntry[] = [];
    for (const e of taken) {
      const keep = Math.min(e.n, room);
      if (keep > 0) back.push(keep === e.n ? e : truncate(e, keep));
      if (keep < e.n) this.dropped.inc(e.n - keep);
      room -= keep;
      this.held += keep;
    }
    this.sealed = back.concat(this.sealed);
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
 * Every exchange in the stream, in time order (end time). Entries of either format are read (a
 * rolling upgrade); an entry it cannot read is skipped, and `logger` says how many and why.
 */
export async function readOutcomes(
  client: Client,
  cfg: FleetConfig,
  logger?: Logger,
): Promise<ExchangeOutcome[]> {
  const outcomes: ExchangeOutcome[] = [];
  let start = '-';
  let skipped = 0;
  let why = '';
  // Bounded: the stream is trimmed to about STREAM_MAXLEN exchanges, at least one per entry.
  for (let page = 0; page < Math.ceil(STREAM_MAXLEN / PAGE) + 2; page++) {
    const entries = await client.xRange(streamKey(cfg), start, '+', { COUNT: PAGE });
    for (const e of entries) {
      try {
        decodeEntry(e.message as Record<string, string>, outcomes);
      } catch (err) {
        if (!(err instanceof EntryFormatError)) throw err;
        skipped++;
        why = err.message;
      }
    }
    if (entries.length < PAGE) break;
    start = `(${entries[entries.length - 1]!.id}`;
  }
  if (skipped > 0) {
    logger?.warn({ skipped, last: why }, 'fleet: report skipped outcome stream entries it cannot read');
  }
  return outcomes.sort((a, b) => a.endedAt - b.endedAt);
}

/**
 * The fleet report: every exchange in the stream folded through a fresh tracker (the same code
 * as an instance's own report), so a failure through one instance and its retry through
 * another are one recovered incident.
 */
export async function fleetReport(
  client: Client,
  cfg: FleetConfig,
  config: Config,
  meta: ReportMeta,
  logger?: Logger,
): Promise<Report> {
  const outcomes = await readOutcomes(client, cfg, logger);
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
