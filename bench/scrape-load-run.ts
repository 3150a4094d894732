import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { cpuWindow, median, percentile } from './harness.js';
import { call, type World } from './scrape-load-setup.js';

/**
 * One measured run of `bench/scrape-load.ts`: proxied GETs on a fixed schedule (`rate` per
 * second, at most `inFlight` outstanding), optionally with a scraper fetching `/metrics` every
 * `scrapeEveryMs`. Latency is taken from the moment a request was due, not from when it was
 * sent, so a proxy stall that holds requests back (coordinated omission) still counts in full.
 */

export interface Scrape {
  ms: number;
  bytes: number;
  /** performance.now() when it was sent. */
  at: number;
}

export interface RunResult {
  scraping: boolean;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  scrapes: Scrape[];
  /** CPU of faultgate and of everything outside the bench's processes, in cores. */
  faultgateCpu: number;
  otherCpu: number;
  /** faultgate CPU seconds over the run (for CPU per scrape: with minus without). */
  faultgateCpuS: number;
}

export interface RunSpec {
  world: World;
  proxy: Dispatcher;
  admin: Dispatcher;
  faultgatePid: number;
  upstreamPid: number;
  rate: number;
  durationS: number;
  inFlight: number;
  /** 0: no scrapes. */
  scrapeEveryMs: number;
}

/** One `GET /metrics`, the body counted as it streams in and dropped (as Prometheus does). */
export async function scrapeOnce(admin: Dispatcher): Promise<Scrape> {
  const t0 = performance.now();
  const res = await admin.request({ method: 'GET', path: '/metrics' });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
  return { ms: performance.now() - t0, bytes, at: t0 };
}

/** Scrapes on a fixed schedule until `end` (a scrape slower than the interval delays the next). */
async function scraper(admin: Dispatcher, everyMs: number, end: number, out: Scrape[]): Promise<void> {
  let due = performance.now() + everyMs / 2;
  for (;;) {
    // Decided on the schedule, not the clock: a timer may fire a little early.
    if (due >= end) return;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    out.push(await scrapeOnce(admin));
    due = Math.max(due + everyMs, performance.now());
  }
}

/** Sends the scheduled requests; resolves with each one's latency (NaN: failed). */
async function load(spec: RunSpec): Promise<{ latencies: number[]; errors: number }> {
  const { world, rate, inFlight } = spec;
  const total = Math.round(rate * spec.durationS);
  const latencies = new Array<number>(total).fill(Number.NaN);
  let errors = 0;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait >= 1) await sleep(wait);
    while (outstanding >= inFlight) await new Promise<void>((r) => (wake = r));
    outstanding++;
    // From when it was due, or sent if that was earlier (the loop sends up to 1 ms early).
    const from = Math.min(due, performance.now());
    // Spread over the keys populated before, so the measured traffic adds no series.
    call(spec.proxy, i % world.agents, (i * 7) % world.tools)
      .then(
        (status) => {
          latencies[i] = performance.now() - from;
          if (status !== 200) errors++;
        },
        () => errors++,
      )
      .finally(() => {
        outstanding--;
        wake?.();
        wake = undefined;
      });
  }
  while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  return { latencies, errors };
}

export async function measureRun(spec: RunSpec): Promise<RunResult> {
  const cpu = cpuWindow([spec.faultgatePid, spec.upstreamPid]);
  const t0 = performance.now();
  const scrapes: Scrape[] = [];
  const end = performance.now() + spec.durationS * 1000;
  const scraping = spec.scrapeEveryMs > 0;
  const [{ latencies, errors }] = await Promise.all([
    load(spec),
    scraping ? scraper(spec.admin, spec.scrapeEveryMs, end, scrapes) : Promise.resolve(),
  ]);
  const elapsedS = (performance.now() - t0) / 1000;
  const { cores, other } = cpu();
  if (process.env.SCRAPE_LOAD_DEBUG) debugSlow(latencies, t0, spec.rate, scrapes);
  const sorted = latencies.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const faultgateCpu = cores.get(spec.faultgatePid) ?? Number.NaN;
  return {
    scraping,
    requests: sorted.length,
    errors,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    scrapes,
    faultgateCpu,
    otherCpu: other,
    faultgateCpuS: faultgateCpu * elapsedS,
  };
}

/** Medians over the runs of one mode. */
export function summarize(runs: RunResult[]): {
  p50: number;
  p99: number;
  max: number;
  cpu: number;
  other: number;
} {
  return {
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    max: median(runs.map((r) => r.max)),
    cpu: median(runs.map((r) => r.faultgateCpu)),
    other: median(runs.map((r) => r.otherCpu)),
  };
}

/** SCRAPE_LOAD_DEBUG=1: when the slowest requests were due, against when the scrapes ran. */
function debugSlow(latencies: number[], t0: number, rate: number, scrapes: Scrape[]): void {
  const slow = latencies
    .map((ms, i) => [i, ms] as const)
    .filter(([, ms]) => ms > 20)
    .map(([i, ms]) => `${Math.round((i * 1000) / rate)}:${Math.round(ms)}`);
  const windows = scrapes.map((s) => `${Math.round(s.at - t0)}-${Math.round(s.at - t0 + s.ms)}`);
  console.error(
    `   slow (due ms:latency ms) ${slow.slice(0, 60).join(' ')}${slow.length > 60 ? ' ...' : ''}`,
  );
  if (windows.length) console.error(`   scrapes ${windows.join(' ')}`);
}
