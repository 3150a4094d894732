import {
  cpuWindow,
  fmt,
  LOAD_CPU,
  list,
  machineLine,
  median,
  pin,
  pinning,
  parseFlags,
  printTable,
  setPinning,
  stopAll,
  waitQuiet,
  BUSY_THRESHOLD,
} from './harness.js';
import { compareTable } from './compare.js';
import { type LoadResult, loadGenerator } from './load.js';
import { parseSize } from './upstream.js';
import { pickTargets, startTargets, type Running, startUpstreamProcess, type Target } from './targets.js';

/**
 * End-to-end throughput and latency: the same load against the upstream directly, through the
 * bare reference proxy and through faultgate (Toxiproxy's BenchmarkDirect vs BenchmarkProxy),
 * for each body size and connection count; medians of --runs runs, targets rotated per run.
 */

const USAGE = `usage: node dist/bench/e2e.js [--runs 3] [--duration 5] [--warmup 1] [--sizes 1k,256k]
       [--connections 10,50] [--only direct,reference,faultgate] [--loadgen auto|wrk|autocannon]
       [--pin auto|off] [--markdown] [--quiet-wait 120] [--retries 2] [--compare] [--idle-s 0]
--idle-s N leaves every target idle for N seconds after its start check and before the first
measurement (issue 13: a long-lived process, not only a fresh one);
--compare adds the peers table of issue 13 (nginx, haproxy, bare undici proxy, faultgate, ratios);
npm run bench:compare runs it with the peers, 1 KiB and 256 KiB at 10 connections.`;

const flags = parseFlags({
  runs: '3',
  duration: '5',
  warmup: '1',
  sizes: '1k,256k',
  connections: '10,50',
  only: 'direct,reference,faultgate',
  loadgen: 'auto',
  pin: 'auto',
  markdown: 'false',
  'quiet-wait': '120',
  retries: '2',
  compare: 'false',
  'idle-s': '0',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
setPinning(flags.pin !== 'off');
const runs = Number(flags.runs);
const durationS = Number(flags.duration);
const warmupS = Number(flags.warmup);
const sizes = list(flags.sizes).map(parseSize);
const conns = list(flags.connections).map(Number);
// `--markdown` and `--compare` work as bare switches too (parseArgs gives them '').
const markdown = flags.markdown !== 'false';
const compare = flags.compare !== 'false';
const generator = loadGenerator(flags.loadgen === 'auto' ? undefined : flags.loadgen);
const headers = { 'x-agent-id': 'bench-agent' };

let chosen = pickTargets(list(flags.only));
let skipped: string[] = [];

export interface Sample extends LoadResult {
  targetCpu: number;
  upstreamCpu: number;
  /** Machine CPU not used by the processes of the bench: other work, or interrupts. */
  otherCpu: number;
}

const kib = (n: number) => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);

async function check(target: Target, running: Running): Promise<void> {
  for (const size of sizes) {
    const res = await fetch(`${running.url}/bytes/${size}`, { headers });
    const body = await res.arrayBuffer();
    if (res.status !== 200 || body.byteLength !== size) {
      throw new Error(`${target.name}: GET /bytes/${size} gave ${res.status} with ${body.byteLength} bytes`);
    }
  }
}

async function measure(
  running: Running,
  upstreamPid: number,
  url: string,
  connections: number,
): Promise<Sample> {
  await waitQuiet(Number(flags['quiet-wait']));
  if (warmupS > 0) await generator.run({ url, connections, durationS: warmupS, headers });
  const window = cpuWindow([running.pid, upstreamPid]);
  const r = await generator.run({ url, connections, durationS, headers });
  const { cores, other } = window(generator.name === 'wrk' ? r.cpu : 0);
  const targetCpu = cores.get(running.pid)!;
  const upstreamCpu = running.pid === upstreamPid ? 0 : cores.get(upstreamPid)!;
  return { ...r, targetCpu, upstreamCpu, otherCpu: other };
}

function printSkipped(): void {
  for (const reason of skipped) console.log(`!! ${reason}`);
}

function report(results: Map<string, Sample[]>): void {
  const pct = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x * 100)}%`);
  const summary: string[][] = [];
  for (const size of sizes) {
    for (const c of conns) {
      const med = (name: string, key: keyof Sample) =>
        median((results.get(`${size}/${c}/${name}`) ?? []).map((s) => s[key]));
      const rows = chosen.map((t) => {
        const samples = results.get(`${size}/${c}/${t.name}`) ?? [];
        const rps = med(t.name, 'rps');
        const rpsAll = samples.map((s) => s.rps);
        const spread = (Math.max(...rpsAll) - Math.min(...rpsAll)) / rps;
        const p99Added = med(t.name, 'p99Ms') - med('direct', 'p99Ms');
        const row = [
          t.name,
          fmt(rps, 0),
          `±${fmt((spread / 2) * 100, 1)}%`,
          fmt(med(t.name, 'p50Ms'), 3),
          fmt(med(t.name, 'p99Ms'), 3),
          fmt(rps / med('direct', 'rps')),
          fmt(rps / med('reference', 'rps')),
          t.name === 'direct' ? '-' : fmt(p99Added, 3),
          pct(med(t.name, 'targetCpu')),
          t.name === 'direct' ? '-' : pct(med(t.name, 'upstreamCpu')),
          pct(med(t.name, 'cpu')),
          pct(med(t.name, 'otherCpu')),
          String(samples.reduce((a, s) => a + s.errors, 0)),
        ];
        if (t.name !== 'direct' && t.name !== 'reference') summary.push([kib(size), String(c), ...row]);
        return row;
      });
      console.log(`\n${kib(size)} bodies, ${c} connections (median of ${runs})`);
      printTable(
        [
          'target',
          'req/s',
          'spread',
          'p50 ms',
          'p99 ms',
          'x direct',
          'x reference',
          'p99 +direct ms',
          'cpu target',
          'cpu upstream',
          'cpu loadgen',
          'cpu other',
          'errors',
        ],
        rows,
        markdown,
      );
    }
  }
  if (summary.length) {
    console.log('\nsummary: c/a = x direct, c/b = x reference (req/s); p99 added over direct');
    printTable(
      ['body', 'conns', 'target', 'req/s', 'c/a', 'c/b', 'p99 +direct ms'],
      summary.map((r) => [r[0]!, r[1]!, r[2]!, r[3]!, r[7]!, r[8]!, r[9]!]),
      markdown,
    );
    console.log('targets (issue 2): c/b >= 0.9 at 1 KiB; p99 added <= 1 ms at 10 connections');
  }
}

const running = new Map<Target, Running>();

async function main(): Promise<void> {
  pin(process.pid, LOAD_CPU);
  console.log(machineLine(`load generator: ${generator.name}, ${durationS}s runs after ${warmupS}s warm-up`));
  if (!pinning()) console.log('!! taskset unavailable or --pin off: processes are not pinned');
  const upstream = await startUpstreamProcess();
  skipped = await startTargets(chosen, upstream, running, check);
  chosen = chosen.filter((t) => running.has(t));
  const idleS = Number(flags['idle-s']);
  if (idleS > 0) {
    console.log(`every target idle for ${idleS} s before the first measurement`);
    await new Promise((resolve) => setTimeout(resolve, idleS * 1000));
  }
  const results = new Map<string, Sample[]>();
  const total = sizes.length * conns.length * runs * chosen.length;
  let step = 0;
  for (const size of sizes) {
    for (const c of conns) {
      for (let run = 0; run < runs; run++) {
        // Rotating the order spreads any drift of the machine over all targets.
        const order = chosen.map((_, i) => chosen[(i + run) % chosen.length]!);
        for (const t of order) {
          const r = running.get(t)!;
          let s = await measure(r, upstream.child.pid, `${r.url}/bytes/${size}`, c);
          // Something else ran during the measurement: wait for quiet and measure again.
          for (let retry = 0; s.otherCpu > BUSY_THRESHOLD && retry < Number(flags.retries); retry++) {
            console.error(
              `.. ${t.name}: ${Math.round(s.otherCpu * 100)}% of a core used by others, measuring again`,
            );
            s = await measure(r, upstream.child.pid, `${r.url}/bytes/${size}`, c);
          }
          const key = `${size}/${c}/${t.name}`;
          results.set(key, [...(results.get(key) ?? []), s]);
          console.error(
            `[${++step}/${total}] ${kib(size)} c=${c} ${t.name} run ${run + 1}: ${fmt(s.rps, 0)} req/s, p99 ${fmt(s.p99Ms, 3)} ms${s.errors ? `, ${s.errors} errors` : ''}`,
          );
        }
      }
    }
  }
  report(results);
  if (compare) compareTable(results, { sizes, conns, runs, markdown });
  printSkipped();
}

try {
  await main();
} finally {
  await Promise.all([...running.values()].map((r) => r.stop()));
  await stopAll();
}
