import type { Sample } from './e2e.js';
import { BUSY_THRESHOLD, fmt, median, printTable } from './harness.js';

/**
 * The comparison table of issue 13: nginx, haproxy, the bare undici proxy and faultgate side
 * by side, with faultgate's ratios to the bare proxy and to nginx. Cells where another process
 * still loaded the machine after the retries are marked `*` (rerun them when it is quiet).
 */

const COLUMNS = ['nginx', 'haproxy', 'reference', 'faultgate'] as const;

interface Shape {
  sizes: number[];
  conns: number[];
  runs: number;
  markdown: boolean;
}

type Metric = (s: Sample) => number;

const rps: Metric = (s) => s.rps;
const p99: Metric = (s) => s.p99Ms;
/** Proxy CPU per request in µs: the target's share of a core over its request rate. */
const cpuPerRequest: Metric = (s) => (s.targetCpu / s.rps) * 1e6;

const kib = (n: number) => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

export function compareTable(results: Map<string, Sample[]>, shape: Shape): void {
  let loaded = false;
  const cell = (key: string, metric: Metric): [number, string] => {
    const samples = results.get(key) ?? [];
    if (samples.length === 0) return [Number.NaN, '-'];
    const value = median(samples.map(metric));
    const busy = median(samples.map((s) => s.otherCpu)) > BUSY_THRESHOLD;
    loaded ||= busy;
    return [value, `${fmt(value, value >= 100 ? 0 : 1)}${busy ? '*' : ''}`];
  };
  const rows: string[][] = [];
  for (const size of shape.sizes) {
    for (const c of shape.conns) {
      const lines: [string, Metric, 'higher' | 'lower', boolean][] = [
        [`${kib(size)}, ${c} conns, req/s`, rps, 'higher', true],
        [`${kib(size)}, proxy CPU µs per request`, cpuPerRequest, 'lower', true],
        [`${kib(size)}, ${c} conns, p99 ms`, p99, 'lower', false],
      ];
      for (const [label, metric, better, ratios] of lines) {
        const values = COLUMNS.map((t) => cell(`${size}/${c}/${t}`, metric));
        const [nginx, , bare, faultgate] = values.map((v) => v[0]);
        // Ratios read "faultgate's pace relative to": > 1 is better for faultgate.
        const ratio = (other: number | undefined) => {
          if (!ratios || other === undefined || Number.isNaN(other) || Number.isNaN(faultgate!)) return '';
          return fmt(better === 'higher' ? faultgate! / other : other / faultgate!);
        };
        rows.push([label, ...values.map((v) => v[1]), ratio(bare), ratio(nginx)]);
      }
    }
  }
  console.log(
    `\ncomparison (median of ${shape.runs}; ratios > 1 favour faultgate; CPU ratios are requests per CPU-second)`,
  );
  printTable(
    [
      'cell',
      'nginx (1 worker)',
      'haproxy (1 thread)',
      'bare undici proxy',
      'faultgate',
      'faultgate ÷ bare',
      'faultgate ÷ nginx',
    ],
    rows,
    shape.markdown,
  );
  if (loaded) {
    console.log(
      `* another process used more than ${BUSY_THRESHOLD * 100}% of a core during this cell even after the retries: rerun it on a quiet machine`,
    );
  }
}
