import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { benchConfigYaml } from './faultgate-config.js';
import { type BenchRedis, fleetYaml, startBenchRedis } from './fleet-redis.js';
import {
  type Child,
  cpuSeconds,
  fmt,
  freePort,
  LOAD_CPU,
  list,
  median,
  parseFlags,
  pin,
  printTable,
  SUT_CPU,
  startChild,
  stopAll,
} from './harness.js';
import { FAULTGATE_CLI, waitReady } from './targets.js';
import { parseSize, startUpstream } from './upstream.js';

/**
 * Fleet mode's cost in load-independent terms (issue 13): faultgate's own CPU per request
 * (utime + stime from /proc over a fixed request count, after a warm-up), the redis-server's
 * CPU per request, and V8's GC work per 10,000 requests (from `--trace-gc-nvp`: scavenges,
 * bytes promoted to the old space, full mark-compacts), fleet off vs on. In each of `--rounds`
 * rounds every mode runs at the same time on the same core, so load from outside hits them
 * alike; the table gives each mode's CPU per request over the first mode's, round by round.
 * Wall-clock throughput is not measured here (bench:e2e does that); these figures move little
 * with the machine's load, so they decide a change on a shared machine.
 *
 *   npm run build && node dist/bench/fleet-cpu.js --rounds 3 --requests 30000 --warmup 5000
 *   FAULTGATE_BASELINE_CLI=/tmp/base/dist/src/cli.js node dist/bench/fleet-cpu.js --modes off,on,base-on
 *   node dist/bench/fleet-cpu.js --modes on --rounds 1 --cpu-prof /tmp/prof   (a .cpuprofile per process)
 *
 * Modes: `off` (this build, no fleet), `on` (this build, fleet with its own redis-server),
 * `armed` (no fleet, level 1, nothing fires), `l1` (no fleet, level 1, 10% injected errors,
 * each logged at info), `l100` (as `l1` with every request answered by the injected error),
 * `base-*` (the build at FAULTGATE_BASELINE_CLI: before/after in one run).
 */

const USAGE = `usage: node dist/bench/fleet-cpu.js [--modes off,on] [--rounds 3] [--requests 30000]
       [--warmup 5000] [--connections 10] [--size 1k] [--cpu-prof DIR] [--markdown]`;

const flags = parseFlags({
  modes: 'off,on',
  rounds: '3',
  requests: '30000',
  warmup: '5000',
  connections: '10',
  size: '1k',
  'cpu-prof': '',
  markdown: 'false',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

interface Gc {
  scavenges: number;
  promoted: number;
  majors: number;
  pauseMs: number;
}

interface Sample {
  mode: string;
  fgUs: number;
  /** The kernel's part of fgUs (stime). */
  sysUs: number;
  redisUs: number;
  gc: Gc;
}

/** A process's system CPU time (stime) in seconds, from /proc. */
function systemSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[12]) / 100;
}

/** Counts the `--trace-gc-nvp` lines a child prints (alongside its log lines). */
function gcCounter(child: Child): () => Gc {
  const gc: Gc = { scavenges: 0, promoted: 0, majors: 0, pauseMs: 0 };
  let rest = '';
  child.proc.stdout!.on('data', (data: string) => {
    const lines = (rest + data).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const kind = / gc=(\w+) /.exec(line)?.[1];
      if (!kind) continue;
      if (kind === 's') gc.scavenges++;
      else if (kind === 'mc' || kind === 'mmc') gc.majors++;
      gc.promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      gc.pauseMs += Number(/pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    }
  });
  return () => ({ ...gc });
}

/** `count` GETs over `connections` keep-alive connections, each connection one at a time. */
async function drive(pool: Pool, path: string, count: number, connections: number): Promise<void> {
  let left = count;
  const headers = { 'x-agent-id': 'bench-agent' };
  const worker = async () => {
    while (left > 0) {
      left--;
      const res = await pool.request({ path, method: 'GET', headers });
      await res.body.dump();
      // 503: the `l1` modes' injected errors.
      if (res.statusCode !== 200 && res.statusCode !== 503) throw new Error(`status ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
}

async function startFaultgate(mode: string, upstream: string, dir: string) {
  const base = mode.startsWith('base-');
  const cli = base ? process.env.FAULTGATE_BASELINE_CLI : FAULTGATE_CLI;
  if (!cli) throw new Error(`${mode}: set FAULTGATE_BASELINE_CLI=/path/to/dist/src/cli.js`);
  const redis: BenchRedis | undefined = mode.endsWith('on') ? await startBenchRedis() : undefined;
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, `${mode}.yaml`);
  // `l1`: chaos level 1 with a 10% error experiment, logging at info as a user's faultgate does
  // (one line per injected fault); `l100`: the same at 100%; `armed`: level 1, nothing fires.
  // Against `off`: the fault path.
  const faults = mode.endsWith('l1') || mode.endsWith('l100');
  const yaml = benchConfigYaml({
    listenPort: port,
    adminPort,
    upstream,
    logLevel: faults ? 'info' : 'warn',
    ...(faults
      ? { mode: mode.endsWith('l100') ? ('faults100' as const) : ('faults10' as const) }
      : mode.endsWith('armed')
        ? { mode: 'armed' as const }
        : {}),
  });
  writeFileSync(file, yaml + (redis ? fleetYaml(redis.url, mode) : ''));
  const nodeFlags = ['--trace-gc-nvp'];
  if (flags['cpu-prof']) nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`);
  const { child } = await startChild(mode, process.execPath, [...nodeFlags, cli, 'start', '-c', file], {
    cpu: SUT_CPU,
    ready: null,
  });
  await waitReady(`http://127.0.0.1:${adminPort}/readyz`, 20_000);
  return { url: `http://127.0.0.1:${port}`, child, redis };
}

interface Running {
  mode: string;
  child: Child;
  redis: BenchRedis | undefined;
  pool: Pool;
  gc: () => Gc;
}

/** Measures one mode's requests; the modes of a round run this at the same time. */
async function measure(r: Running, path: string): Promise<Sample> {
  const connections = Number(flags.connections);
  const requests = Number(flags.requests);
  const redisPid = r.redis?.child.pid;
  const [fg0, sys0, redis0, gc0] = [
    cpuSeconds(r.child.pid),
    systemSeconds(r.child.pid),
    redisPid ? cpuSeconds(redisPid) : 0,
    r.gc(),
  ];
  await drive(r.pool, path, requests, connections);
  // The last outcome batch goes out within one flush period: count its Redis cost too.
  if (redisPid) await new Promise((resolve) => setTimeout(resolve, 400));
  const [fg1, sys1, redis1, gc1] = [
    cpuSeconds(r.child.pid),
    systemSeconds(r.child.pid),
    redisPid ? cpuSeconds(redisPid) : 0,
    r.gc(),
  ];
  const per10k = 10_000 / requests;
  return {
    mode: r.mode,
    fgUs: ((fg1 - fg0) * 1e6) / requests,
    sysUs: ((sys1 - sys0) * 1e6) / requests,
    redisUs: ((redis1 - redis0) * 1e6) / requests,
    gc: {
      scavenges: (gc1.scavenges - gc0.scavenges) * per10k,
      promoted: (gc1.promoted - gc0.promoted) * per10k,
      majors: (gc1.majors - gc0.majors) * per10k,
      pauseMs: (gc1.pauseMs - gc0.pauseMs) * per10k,
    },
  };
}

/**
 * One round: every mode's faultgate started, warmed up and measured at the same time, all on
 * the same core, so whatever else loads the machine during the round loads every mode alike
 * (on a shared 2-core VM, sequential runs differ by ±40% in CPU per request; paired ones by a
 * few %).
 */
async function round(modes: string[], upstream: string, dir: string): Promise<Sample[]> {
  const running: Running[] = [];
  const path = `/bytes/${flags.size}`;
  const connections = Number(flags.connections);
  try {
    for (const mode of modes) {
      const { url, child, redis } = await startFaultgate(mode, upstream, dir);
      const pool = new Pool(url, { connections, pipelining: 1 });
      running.push({ mode, child, redis, pool, gc: gcCounter(child) });
    }
    await Promise.all(running.map((r) => drive(r.pool, path, Number(flags.warmup), connections)));
    return await Promise.all(running.map((r) => measure(r, path)));
  } finally {
    for (const r of running) {
      await r.pool.close();
      // SIGTERM: a --cpu-prof process writes its profile as it exits.
      await r.child.stop();
      await r.redis?.stop();
    }
  }
}

function summary(modes: string[], samples: Sample[]): string[][] {
  return modes.map((mode) => {
    const of = samples.filter((s) => s.mode === mode);
    const med = (f: (s: Sample) => number) => median(of.map(f));
    // Each round's figure over the first mode's in the same round: the load-robust comparison.
    const ratios = of.map((s, i) => s.fgUs / samples.filter((x) => x.mode === modes[0])[i]!.fgUs);
    return [
      mode,
      fmt(
        med((s) => s.fgUs),
        1,
      ),
      fmt(median(ratios), 3),
      fmt(
        med((s) => s.sysUs),
        1,
      ),
      fmt(
        med((s) => s.redisUs),
        2,
      ),
      fmt(
        med((s) => s.gc.scavenges),
        1,
      ),
      fmt(med((s) => s.gc.promoted) / 1024, 0),
      fmt(
        med((s) => s.gc.majors),
        2,
      ),
      fmt(
        med((s) => s.gc.pauseMs),
        1,
      ),
    ];
  });
}

async function main(): Promise<void> {
  if (Number.isNaN(parseSize(flags.size))) throw new Error(`bad --size ${flags.size}`);
  pin(process.pid, LOAD_CPU);
  const { server, url: upstream } = await startUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-fleet-cpu-'));
  const modes = list(flags.modes);
  const samples: Sample[] = [];
  try {
    for (let n = 0; n < Number(flags.rounds); n++) {
      // Started in a different order each round: no mode always gets the warmest start.
      const order = n % 2 === 0 ? modes : [...modes].reverse();
      const got = await round(order, upstream, dir);
      for (const mode of modes) {
        const s = got.find((x) => x.mode === mode)!;
        samples.push(s);
        console.error(
          `round ${n + 1} ${mode}: faultgate ${fmt(s.fgUs, 1)} µs/req (kernel ${fmt(s.sysUs, 1)}), redis ${fmt(s.redisUs, 2)} µs/req, ` +
            `per 10k: ${fmt(s.gc.scavenges, 1)} scavenges, ${fmt(s.gc.promoted / 1024, 0)} KiB promoted, ` +
            `${fmt(s.gc.majors, 2)} majors, ${fmt(s.gc.pauseMs, 1)} ms paused`,
        );
      }
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    await stopAll();
  }
  console.log(
    `${flags.requests} requests of ${flags.size} per mode after ${flags.warmup} warm-up, ${flags.connections} connections each, modes measured at once; medians of ${flags.rounds} rounds`,
  );
  const header = [
    'mode',
    'faultgate CPU µs/req',
    `÷ ${modes[0]} (same round)`,
    'of which kernel µs',
    'redis CPU µs/req',
    'scavenges /10k',
    'promoted KiB /10k',
    'majors /10k',
    'GC pause ms /10k',
  ];
  printTable(header, summary(modes, samples), flags.markdown !== 'false');
}

await main();
