import { readFileSync } from 'node:fs';

/** One line of the soak's per-minute figures (printed, written to .reliability/soak.json). */
export interface SoakMinute {
  minute: number;
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  failed_on_wire: number;
  rss_mb: number;
  heap_mb: number;
  handles: number;
  eventloop_p99_ms: number;
}

/** Prometheus text -> `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose label text contains each of `having`. */
export function sumOf(metrics: Map<string, number>, name: string, ...having: string[]): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    const brace = key.indexOf('{');
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue;
    if (having.every((h) => key.includes(h))) sum += value;
  }
  return sum;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

interface Row {
  requests: number;
  faults: Record<string, number>;
  incidents: number;
  recovered: number;
  unrecovered: number;
  open?: number;
}

/**
 * The soak's bookkeeping checks (issue 14): every HTTP call the clients made is one
 * `faultgate_requests_total` (its outcomes sum to it), and the tracker agrees with it; incidents
 * opened = recovered + unrecovered + open; injected faults in metrics = in the report.
 */
export function counterChecks(
  metrics: Map<string, number>,
  report: { overall: Row; agents: { tools: Row[] }[] },
  httpCalls: number,
): string[] {
  const failures: string[] = [];
  const total = sumOf(metrics, 'faultgate_requests_total');
  const outcomes =
    sumOf(metrics, 'faultgate_requests_total', 'outcome="success"') +
    sumOf(metrics, 'faultgate_requests_total', 'outcome="failure"');
  if (total !== outcomes) failures.push(`faultgate_requests_total ${total} != sum of outcomes ${outcomes}`);
  if (total !== httpCalls) failures.push(`faultgate_requests_total ${total} != HTTP calls made ${httpCalls}`);
  const tracked = report.agents.flatMap((a) => a.tools).reduce((s, t) => s + t.requests, 0);
  if (tracked !== total) failures.push(`report requests ${tracked} != faultgate_requests_total ${total}`);
  const o = report.overall;
  // `open` is in SPEC section 8's tool row; until the report carries it, metrics say it.
  const incidents = sumOf(metrics, 'faultgate_incidents_total');
  const recovered = sumOf(metrics, 'faultgate_recoveries_total');
  const unrecovered = sumOf(metrics, 'faultgate_unrecovered_incidents_total');
  const open = o.open ?? incidents - recovered - unrecovered;
  if (o.incidents !== o.recovered + o.unrecovered + open || open < 0)
    failures.push(
      `incidents ${o.incidents} != recovered ${o.recovered} + unrecovered ${o.unrecovered} + open ${open}`,
    );
  if (incidents !== o.incidents || recovered !== o.recovered || unrecovered !== o.unrecovered)
    failures.push(
      `metrics incidents/recovered/unrecovered ${incidents}/${recovered}/${unrecovered} != report ${o.incidents}/${o.recovered}/${o.unrecovered}`,
    );
  const injected = sumOf(metrics, 'faultgate_faults_injected_total');
  const reported = Object.values(o.faults).reduce((s, n) => s + n, 0);
  if (injected !== reported)
    failures.push(`faultgate_faults_injected_total ${injected} != report faults ${reported}`);
  return failures;
}
