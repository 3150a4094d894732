import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { benchConfigYaml } from './faultgate-config.js';
import { fleetYaml, startBenchRedis } from './fleet-redis.js';
import { commandExists, freePort, isMain, list, parseFlags, startChild, stopAll } from './harness.js';
import { FAULTGATE_CLI, waitReady } from './targets.js';
import { parseSize, startUpstream } from './upstream.js';

/**
 * Instructions per request, a measure that does not depend on machine load: the proxy under
 * test runs under `valgrind --tool=callgrind`; after a warm-up (so the JIT has settled) the
 * counters are zeroed, a fixed number of keep-alive requests go through, and the dump's total
 * divided by the count is the figure. The upstream and the client run in this process, which
 * is not measured. Slow (valgrind runs node ~50x slower), so the counts are small.
 *
 *   npm run bench:instr -- --sizes 1k,256k --requests 2000 --warmup 3000
 *   FAULTGATE_BASELINE_CLI=/tmp/base/dist/src/cli.js npm run bench:instr -- --only baseline,faultgate
 *   INSTR_KEEP=1 ... keeps the callgrind dumps (for callgrind_annotate) in /tmp/faultgate-instr-*
 *
 * Targets: `reference` (bench/reference-proxy.ts), `faultgate` (this build, the bench config of
 * faultgate-config.ts: 50 tools, 20 experiments, level 0, tracking on), `baseline`, and
 * `faultgate-fleet` / `baseline-fleet` (fleet mode, a redis-server of their own).
 */

const REFERENCE_JS = new URL('./reference-proxy.js', import.meta.url).pathname;

interface Proxy {
  url: string;
  pid: number;
  outDir: string;
  stop(): Promise<void>;
}

async function startUnderCallgrind(target: string, upstream: string, extraNode: string[]): Promise<Proxy> {
  const outDir = mkdtempSync(join(tmpdir(), 'faultgate-instr-'));
  const valgrind = [
    '--tool=callgrind',
    `--callgrind-out-file=${join(outDir, 'cg.out.%p')}`,
    '--dump-instr=no',
    '--compress-strings=no',
  ];
  if (target !== 'reference') {
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(outDir, 'faultgate.yaml');
    // `-fleet` (e.g. `faultgate-fleet`): fleet mode, with a redis-server of its own (not measured).
    const redis = target.endsWith('-fleet') ? await startBenchRedis() : undefined;
    const yaml = benchConfigYaml({ listenPort: port, adminPort, upstream, logLevel: 'warn' });
    writeFileSync(file, yaml + (redis ? fleetYaml(redis.url, target) : ''));
    // `baseline`: another build of faultgate (the commit before a change), as in targets.ts.
    const cli = target.startsWith('baseline') ? (process.env.FAULTGATE_BASELINE_CLI ?? '') : FAULTGATE_CLI;
    if (!cli) throw new Error('baseline: set FAULTGATE_BASELINE_CLI=/path/to/dist/src/cli.js');
    const args = [...valgrind, process.execPath, ...extraNode, cli, 'start', '-c', file];
    // faultgate at level warn prints no "listening" line: poll readiness instead.
    const { child } = await startChild(target, 'valgrind', args, { ready: null });
    await waitReady(`http://127.0.0.1:${adminPort}/readyz`, 600_000);
    return {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      outDir,
      stop: async () => {
        await child.stop();
        await redis?.stop();
        if (!process.env.INSTR_KEEP) rmSync(outDir, { recursive: true, force: true });
      },
    };
  }
  const args = [
    ...valgrind,
    process.execPath,
    ...extraNode,
    REFERENCE_JS,
    '--upstream',
    upstream,
    '--port',
    '0',
  ];
  const { child, match } = await startChild(target, 'valgrind', args, {
    ready: /listening on (http:\/\/\S+)/,
    timeoutMs: 600_000,
  });
  return {
    url: match[1]!,
    pid: child.pid,
    outDir,
    stop: async () => {
      await child.stop();
      if (!process.env.INSTR_KEEP) rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** `count` GETs over `connections` keep-alive connections, bodies read and dropped. */
async function drive(url: string, path: string, count: number, connections: number): Promise<void> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  let left = count;
  const worker = async () => {
    while (left > 0) {
      left--;
      const { statusCode, body } = await pool.request({ path, method: 'GET' });
      // dump() takes a finite limit only (Infinity means its 128 KiB default, which closes the connection).
      await body.dump({ limit: 2 ** 40 });
      if (statusCode !== 200) throw new Error(`${url}${path}: status ${statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

/** The callgrind client talks to the tool through files it polls: keep the process busy meanwhile. */
async function control(pid: number, flag: string, url: string, path: string): Promise<void> {
  const busy = drive(url, path, 1, 1);
  execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore', timeout: 120_000 });
  await busy;
}

/** Calls counted from the dump: syscalls (libc wrappers) and V8 collections in the window. */
const COUNTED: Record<string, string> = {
  'cfn=read': 'read',
  'cfn=write': 'write',
  'cfn=writev': 'writev',
  'cfn=connect': 'connect',
  'cfn=v8::internal::ScavengerCollector::CollectGarbage()': 'scavenge',
  'cfn=v8::internal::MarkCompactCollector::CollectGarbage()': 'major',
};

export interface Counts {
  instructions: number;
  /** Without V8's background optimizing compiler (Turbofan), which a warm-up under valgrind never finishes. */
  withoutJit: number;
  calls: Record<string, number>;
}

/** Inclusive instructions of V8's background Turbofan jobs in a dump (callgrind_annotate). */
function backgroundCompile(file: string): number {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = text
    .split('\n')
    .find((l) => l.includes('OptimizingCompileDispatcher::CompileTask::RunInternal'));
  return line ? Number(line.trim().split(/\s/)[0]!.replaceAll(',', '')) : 0;
}

/** The last dump (`cg.out.PID.N`, made by `callgrind_control -d`) covers the measured requests. */
function readDump(outDir: string, pid: number): Counts {
  const dumps = readdirSync(outDir)
    .filter((f) => f.startsWith(`cg.out.${pid}.`))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const last = dumps.at(-1);
  if (!last) throw new Error(`no callgrind dump in ${outDir}`);
  const text = readFileSync(join(outDir, last), 'utf8');
  const m = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals line in ${last}`);
  const calls: Record<string, number> = {};
  for (const name of Object.values(COUNTED)) calls[name] = 0;
  // A call record is `cfn=NAME` then `calls=COUNT ...` (names are not compressed: see the flags).
  let callee: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('cfn=')) callee = COUNTED[line];
    else if (callee && line.startsWith('calls=')) {
      calls[callee]! += Number.parseInt(line.slice(6), 10);
      callee = undefined;
    }
  }
  const instructions = Number(m[1]);
  return { instructions, withoutJit: instructions - backgroundCompile(join(outDir, last)), calls };
}

export async function measure(
  target: string,
  upstream: string,
  size: string,
  opts: { requests: number; warmup: number; connections: number; node: string[] },
): Promise<Counts> {
  const proxy = await startUnderCallgrind(target, upstream, opts.node);
  try {
    const path = `/bytes/${size}`;
    await drive(proxy.url, path, opts.warmup, opts.connections);
    await control(proxy.pid, '-z', proxy.url, path);
    await drive(proxy.url, path, opts.requests, opts.connections);
    await control(proxy.pid, '-d', proxy.url, path);
    // The two control requests are inside the window too.
    const n = opts.requests + 2;
    const { instructions, withoutJit, calls } = readDump(proxy.outDir, proxy.pid);
    for (const k of Object.keys(calls)) calls[k] = calls[k]! / n;
    return { instructions: instructions / n, withoutJit: withoutJit / n, calls };
  } finally {
    await proxy.stop();
  }
}

if (isMain(import.meta.url)) {
  const flags = parseFlags({
    only: 'reference,faultgate',
    sizes: '1k,256k',
    requests: '2000',
    warmup: '2000',
    connections: '10',
    node: '',
  });
  if (!commandExists('valgrind') || !commandExists('callgrind_control')) {
    throw new Error('valgrind is needed (apt-get install -y valgrind)');
  }
  const { server, url: upstream } = await startUpstream();
  const opts = {
    requests: Number(flags.requests),
    warmup: Number(flags.warmup),
    connections: Number(flags.connections),
    node: flags.node ? flags.node.split(' ') : [],
  };
  console.log(
    `instructions per request without / with V8's background JIT, then calls per request (callgrind, ${opts.requests} requests after ${opts.warmup} warm-up, ${opts.connections} connections, node ${process.version}${opts.node.length ? ` ${flags.node}` : ''})`,
  );
  try {
    for (const size of list(flags.sizes)) {
      if (!Number.isFinite(parseSize(size))) throw new Error(`bad size ${size}`);
      for (const target of list(flags.only)) {
        const { instructions, withoutJit, calls } = await measure(target, upstream, size, opts);
        // Syscalls and collections per request say whether two counts are comparable: a
        // different chunking, a reconnect per request or a major GC in one window shows here.
        const per = Object.entries(calls)
          .map(([k, v]) => `${k} ${v.toFixed(k === 'major' || k === 'scavenge' ? 4 : 2)}`)
          .join(', ');
        const fmtN = (x: number) => Math.round(x).toLocaleString('en-US');
        console.log(`${size}\t${target}\t${fmtN(withoutJit)}\t${fmtN(instructions)}\t(${per})`);
      }
    }
  } finally {
    await stopAll();
    server.close();
  }
}
