/**
 * Metric families kept in plain numbers and rendered only when Prometheus scrapes.
 *
 * prom-client hashes a label set on every `inc()`/`observe()` of a bound child (~3.5 µs per
 * request for the exchange metrics) and builds one object per sample at scrape time (a 41 MB,
 * 2 s scrape at 200 agents x 50 tools). The hot families here keep one small object per series
 * whose label text is escaped once, when the series appears; the request path only adds to a
 * number. They still register with prom-client's registry (the `Metric` shape: `get()`), so a
 * plain `Registry` renders them too; `MetricsRegistry` renders them as text directly, a few
 * thousand lines at a time with a yield in between so a big scrape never stalls the proxy, and
 * the admin route writes them out a slice at a time too (src/admin/server.ts).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type Metric, Registry } from 'prom-client';

/**
 * How fine the histograms and the recovery gauges are (SPEC section 6 `metrics.detail`):
 * per (agent, tool), per tool (agent `*`) or per agent (tool `*`). Counters are always per
 * (agent, tool): one line each, and the only way to know who failed.
 */
export type MetricsDetail = 'full' | 'tool' | 'agent';
/** The label value that stands for every agent (or every tool) at a coarser detail. */
export const ALL = '*';

/** The (agent, tool) a coarser detail folds a key into. */
export function foldKey(detail: MetricsDetail, agent: string, tool: string): [string, string] {
  if (detail === 'tool') return [ALL, tool];
  if (detail === 'agent') return [agent, ALL];
  return [agent, tool];
}

const needsEscape = /[\\"\n]/;

function escapeLabel(v: string): string {
  if (!needsEscape.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** A series' labels and their exposition text (`agent="a",tool="b"`), escaped once. */
export class LabelSet {
  readonly text: string;
  constructor(readonly labels: Readonly<Record<string, string>>) {
    this.text = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
  }
}

/** One sample at scrape time; `extra` is a constant label (`le`, `kind`) that needs no escaping. */
export interface Sample {
  suffix: string;
  set: LabelSet;
  extraName?: string;
  extraValue?: string;
  value: number;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${v}`;
}

/**
 * Lines rendered between two yields to the event loop: ~0.2 ms of work. A proxied request
 * needs several turns of the loop (read, dispatch, response, write) and waits for one slice
 * in each while a scrape runs: 2,000-line slices added ~4 ms to the p99 during scrapes
 * (bench/scrape-load.ts), 500-line ones cost ~90 yields per 45,000-line scrape.
 */
const LINES_PER_SLICE = 500;

/** A family that lists its samples when scraped. */
export abstract class Family {
  readonly aggregator = 'sum';
  /** Run before the samples are read (the recovery families bring the tracker up to date). */
  beforeScrape: (() => void) | undefined;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  /**
   * The samples now. `scrape` numbers the MetricsRegistry scrape asking (-1 outside one), so
   * computed families can share one pass over their source between the families of a scrape.
   */
  abstract samples(scrape?: number): Iterable<Sample>;
  abstract reset(): void;

  /** prom-client's `Metric.get()`, for a plain `Registry` (tests, embedders). */
  async get() {
    this.beforeScrape?.();
    const values = [];
    for (const s of this.samples()) {
      const labels = s.extraName ? { ...s.set.labels, [s.extraName]: s.extraValue } : s.set.labels;
      values.push({ metricName: this.name + s.suffix, labels, value: s.value });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /**
   * The family in the text format: the HELP and TYPE lines, then the samples in strings of
   * about LINES_PER_SLICE lines. Lazy: each string is built when asked for, so a caller that
   * yields to the event loop between two of them never holds it for more than one slice.
   */
  *text(scrape = -1): Generator<string> {
    this.beforeScrape?.();
    const help = this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
    yield `# HELP ${this.name} ${help}\n# TYPE ${this.name} ${this.type}`;
    yield* this.slices(scrape);
  }

  /** The whole family as one string (prom-client's getSingleMetricAsString), a slice per turn. */
  async render(): Promise<string> {
    let text = '';
    for (const slice of this.text()) {
      text += slice;
      await yieldToLoop();
    }
    return text;
  }

  /** The sample lines, each preceded by a newline, in strings of about LINES_PER_SLICE lines. */
  protected *slices(scrape = -1): Generator<string> {
    let out = '';
    let n = 0;
    for (const s of this.samples(scrape)) {
      const extra = s.extraName ? `,${s.extraName}="${s.extraValue}"` : '';
      out += `\n${this.name}${s.suffix}{${s.set.text}${extra}} ${valueText(s.value)}`;
      if (++n === LINES_PER_SLICE) {
        yield out;
        out = '';
        n = 0;
      }
    }
    if (out !== '') yield out;
  }

  /** Registers with any prom-client registry (ours renders text, a plain one calls `get()`). */
  register(registry: Registry, beforeScrape?: () => void): this {
    this.beforeScrape = beforeScrape;
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** One counter series: `inc()` adds to a number, nothing else. */
export class CounterSeries {
  value = 0;
  constructor(readonly set: LabelSet) {}
  inc(): void {
    this.value++;
  }
}

/** Counters; a series appears at its first increment, as with prom-client. */
export class CounterFamily extends Family {
  private readonly series: CounterSeries[] = [];
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  /** A new series; the caller keeps it (one per label set) and increments it directly. */
  add(set: LabelSet): CounterSeries {
    const s = new CounterSeries(set);
    this.series.push(s);
    return s;
  }

  *samples(): Iterable<Sample> {
    for (const s of this.series) if (s.value !== 0) yield { suffix: '', set: s.set, value: s.value };
  }

  protected override *slices(): Generator<string> {
    const head = `\n${this.name}{`;
    let out = '';
    let n = 0;
    for (const s of this.series) {
      if (s.value === 0) continue;
      out += `${head}${s.set.text}} ${s.value}`;
      if (++n === LINES_PER_SLICE) {
        yield out;
        out = '';
        n = 0;
      }
    }
    if (out !== '') yield out;
  }

  reset(): void {
    for (const s of this.series) s.value = 0;
  }
}

/** One histogram series: per-bucket (not cumulative) counts, made cumulative at scrape. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly set: LabelSet,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i]! += 1;
    this.sum += v;
    this.count++;
  }
}

/** Histograms, one series per label set; `series()` returns the same series for the same key. */
export class HistogramFamily extends Family {
  private readonly byKey = new Map<string, HistogramSeries>();
  private readonly les: string[];
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
    this.les = [...bounds.map(String), '+Inf'];
  }

  /** Called when a key first appears, never per observation. */
  series(labels: Record<string, string>): HistogramSeries {
    const key = Object.values(labels).join('\u0000');
    let s = this.byKey.get(key);
    if (!s) {
      s = new HistogramSeries(new LabelSet(labels), this.bounds);
      this.byKey.set(key, s);
    }
    return s;
  }

  *samples(): Iterable<Sample> {
    for (const s of this.byKey.values()) {
      if (s.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < this.les.length; i++) {
        cumulative += s.counts[i] as number;
        yield { suffix: '_bucket', set: s.set, extraName: 'le', extraValue: this.les[i]!, value: cumulative };
      }
      yield { suffix: '_sum', set: s.set, value: s.sum };
      yield { suffix: '_count', set: s.set, value: s.count };
    }
  }

  protected override *slices(): Generator<string> {
    const bucket = `\n${this.name}_bucket{`;
    const sum = `\n${this.name}_sum{`;
    const count = `\n${this.name}_count{`;
    const les = this.les.map((le) => `,le="${le}"} `);
    let out = '';
    let n = 0;
    for (const s of this.byKey.values()) {
      if (s.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < les.length; i++) {
        cumulative += s.counts[i] as number;
        out += `${bucket}${s.set.text}${les[i]}${cumulative}`;
      }
      out += `${sum}${s.set.text}} ${valueText(s.sum)}${count}${s.set.text}} ${s.count}`;
      n += les.length + 2;
      if (n >= LINES_PER_SLICE) {
        yield out;
        out = '';
        n = 0;
      }
    }
    if (out !== '') yield out;
  }

  reset(): void {
    for (const s of this.byKey.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** A gauge family whose samples are computed when scraped (nothing is stored). */
export class ComputedFamily extends Family {
  constructor(
    name: string,
    help: string,
    private readonly compute: (scrape: number) => Iterable<Sample>,
  ) {
    super(name, help, 'gauge');
  }

  samples(scrape = -1): Iterable<Sample> {
    return this.compute(scrape);
  }

  reset(): void {}
}

/**
 * prom-client's registry, rendering our families as text directly (no sample objects handed to
 * prom-client's formatter) and in slices; everything else (process metrics, the small families)
 * goes through prom-client unchanged.
 */
export class MetricsRegistry extends Registry {
  private scrapes = 0;

  // Not in prom-client's typings, but it is the method metrics() and getSingleMetricAsString()
  // call for every family (prom-client 15, lib/registry.js).
  async getMetricsAsString(metric: Metric): Promise<string> {
    const m: unknown = metric;
    if (m instanceof Family && this.contentType === Registry.PROMETHEUS_CONTENT_TYPE) return m.render();
    const base = Registry.prototype as unknown as { getMetricsAsString(m: Metric): Promise<string> };
    return base.getMetricsAsString.call(this, metric);
  }

  /**
   * The exposition a slice at a time, the same text as prom-client's `metrics()`. The families
   * are rendered one after another with the event loop running after every slice: prom-client
   * starts every family at once (`Promise.all`), so the first slices of all of them, and the
   * recovery gauges' pass over every key, ran back to back in one turn (~40 ms at 200 agents x
   * 50 tools, measured by bench/scrape-load.ts as the proxied requests' p99).
   */
  async *slices(): AsyncGenerator<string> {
    if (this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) {
      yield await super.metrics();
      return;
    }
    const scrape = ++this.scrapes;
    let separator = '';
    for (const metric of this.getMetricsAsArray()) {
      const m: unknown = metric;
      if (m instanceof Family) {
        for (const slice of m.text(scrape)) {
          yield separator + slice;
          separator = '';
          await yieldToLoop();
        }
      } else {
        yield separator + (await this.getMetricsAsString(m as Metric));
      }
      separator = '\n\n';
    }
    yield '\n';
  }

  override async metrics(): Promise<string> {
    let text = '';
    for await (const slice of this.slices()) text += slice;
    return text;
  }
}

/** Any registry's exposition in slices: ours renders a slice at a time, a plain one at once. */
export async function* expositionSlices(registry: Registry): AsyncGenerator<string> {
  if (registry instanceof MetricsRegistry) yield* registry.slices();
  else yield await registry.metrics();
}
