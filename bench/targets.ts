import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchConfigOptions, benchConfigYaml } from './faultgate-config.js';
import { type Child, freePort, LOAD_CPU, SUT_CPU, startChild } from './harness.js';
import { type BenchRedis, fleetYaml, startBenchRedis } from './fleet-redis.js';
import { haproxy, nginx } from './peers.js';

/**
 * What the benchmarks put load on. A target starts the process under test in front of the
 * bench upstream, pinned to the target core. To add a column (issue 3: chaos level 1; issue 4:
 * tracking on/off), add an entry to `targets` with its own config options.
 */

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
export const UPSTREAM_JS = here('./upstream.js');
const REFERENCE_JS = here('./reference-proxy.js');
export const FAULTGATE_CLI = here('../src/cli.js');

export interface Upstream {
  url: string;
  child: Child;
}

export interface Running {
  /** Where the load goes. */
  url: string;
  /** The process the load generator talks to (for CPU accounting). */
  pid: number;
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  description: string;
  start(upstream: Upstream): Promise<Running>;
}

export async function startUpstreamProcess(): Promise<Upstream> {
  const { child, match } = await startChild('upstream', process.execPath, [UPSTREAM_JS, '--port', '0'], {
    cpu: LOAD_CPU,
    ready: /listening on (http:\/\/\S+)/,
  });
  return { url: match[1]!, child };
}

function referenceProxy(name: string, connections?: number): Target {
  return {
    name,
    description: `bare undici pass-through (bench/reference-proxy.ts), pool cap ${connections ?? 'none'}`,
    async start(upstream) {
      const args = [REFERENCE_JS, '--upstream', upstream.url, '--port', '0'];
      if (connections) args.push('--connections', String(connections));
      const { child, match } = await startChild(name, process.execPath, args, {
        cpu: SUT_CPU,
        ready: /listening on (http:\/\/\S+)/,
      });
      return { url: match[1]!, pid: child.pid, stop: () => child.stop() };
    },
  };
}

export async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer 200 in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type FaultgateOptions = Pick<BenchConfigOptions, 'level' | 'maxConnections' | 'mode' | 'tracking'> & {
  /** Fleet mode (issue 15): a redis-server of its own on a free port, the config's `fleet` key. */
  fleet?: boolean;
  /** V8 flags for the faultgate process (e.g. heap sizing measured against the defaults). */
  nodeFlags?: string[];
};

function faultgate(name: string, options: FaultgateOptions = {}, cli = FAULTGATE_CLI): Target {
  const what = {
    idle: 'chaos level 0',
    armed: 'chaos level 1, nothing targeted',
    faults10: 'chaos level 1, 10% errors',
    faults100: 'chaos level 1, every request an injected error',
  };
  return {
    name,
    description: `faultgate${cli === FAULTGATE_CLI ? '' : ` (${cli})`}, 50 tools, 20 experiments, ${what[options.mode ?? 'idle']}${options.tracking === false ? ', tracking off' : ''}${options.fleet ? ', fleet mode (own redis-server)' : ''}${options.nodeFlags ? `, node ${options.nodeFlags.join(' ')}` : ''}`,
    async start(upstream) {
      if (!existsSync(cli)) throw new Error(`${cli} not found (npm run build?)`);
      const [port, adminPort] = [await freePort(), await freePort()];
      const dir = mkdtempSync(join(tmpdir(), 'faultgate-bench-'));
      const file = join(dir, 'faultgate.yaml');
      const logLevel = process.env.FAULTGATE_BENCH_LOG_LEVEL ?? 'info';
      const { fleet, nodeFlags = [], ...configOptions } = options;
      let redis: BenchRedis | undefined;
      try {
        redis = fleet ? await startBenchRedis() : undefined;
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      writeFileSync(
        file,
        benchConfigYaml({ listenPort: port, adminPort, upstream: upstream.url, logLevel, ...configOptions }) +
          (redis ? fleetYaml(redis.url, name) : ''),
      );
      const cleanup = async () => {
        await redis?.stop();
        rmSync(dir, { recursive: true, force: true });
      };
      let child: Child;
      try {
        ({ child } = await startChild(name, process.execPath, [...nodeFlags, cli, 'start', '-c', file], {
          cpu: SUT_CPU,
          ready: new RegExp(
            `"msg":"listening".*"address":"127\\.0\\.0\\.1:${port}"|"address":"127\\.0\\.0\\.1:${port}".*"msg":"listening"`,
          ),
        }));
      } catch (err) {
        await cleanup();
        throw err;
      }
      try {
        await waitReady(`http://127.0.0.1:${adminPort}/readyz`, 20_000);
      } catch (err) {
        await child.stop();
        await cleanup();
        throw err;
      }
      return {
        url: `http://127.0.0.1:${port}`,
        pid: child.pid,
        async stop() {
          await child.stop();
          await cleanup();
        },
      };
    },
  };
}

/** The upstream itself, where it always is (core 0, with the load generator). */
const direct: Target = {
  name: 'direct',
  description: 'the bench upstream, no proxy',
  async start(upstream) {
    return { url: upstream.url, pid: upstream.child.pid, stop: async () => {} };
  },
};

export const targets: Target[] = [
  direct,
  referenceProxy('reference'),
  nginx,
  haproxy,
  referenceProxy('reference-256', 256),
  faultgate('faultgate'),
  faultgate('faultgate-armed', { mode: 'armed' }),
  faultgate('faultgate-l1', { mode: 'faults10' }),
  faultgate('faultgate-notrack', { tracking: false }),
  // Issue 13: a young generation that does not shrink while idle (bench/gc-idle.ts).
  faultgate('faultgate-semi16', { nodeFlags: ['--min-semi-space-size=16'] }),
  // Issue 15: fleet on vs off (compare with `faultgate`): shared control plane, outcome stream.
  faultgate('faultgate-fleet', { fleet: true }),
  // Another build of faultgate (e.g. the commit before a change), measured in the same run.
  faultgate('faultgate-baseline', {}, process.env.FAULTGATE_BASELINE_CLI ?? '(set FAULTGATE_BASELINE_CLI)'),
  // That build in fleet mode, against `faultgate-fleet`: before/after on the outcome stream.
  faultgate(
    'faultgate-baseline-fleet',
    { fleet: true },
    process.env.FAULTGATE_BASELINE_CLI ?? '(set FAULTGATE_BASELINE_CLI)',
  ),
  // The same build with 10% injected errors, against `faultgate-l1`: before/after on the fault path.
  faultgate(
    'faultgate-baseline-l1',
    { mode: 'faults10' },
    process.env.FAULTGATE_BASELINE_CLI ?? '(set FAULTGATE_BASELINE_CLI)',
  ),
];

/**
 * Starts each target into `running`; one that fails to start (faultgate not built, or refusing
 * the config) is reported and left out so the other columns still run. Returns the reasons.
 */
export async function startTargets(
  list: Target[],
  upstream: Upstream,
  running: Map<Target, Running>,
  check: (t: Target, r: Running) => Promise<void>,
): Promise<string[]> {
  const skipped: string[] = [];
  for (const t of list) {
    try {
      const r = await t.start(upstream);
      running.set(t, r);
      await check(t, r);
      console.error(`started ${t.name}: ${t.description} at ${r.url}`);
    } catch (err) {
      await running.get(t)?.stop();
      running.delete(t);
      const reason = `${t.name} skipped: ${err instanceof Error ? err.message : String(err)}`;
      console.error(`!! ${reason}`);
      skipped.push(reason.split('\n')[0]!);
    }
  }
  return skipped;
}

export function pickTargets(names: string[]): Target[] {
  const unknown = names.filter((n) => !targets.some((t) => t.name === n));
  if (unknown.length) {
    throw new Error(
      `unknown target(s) ${unknown.join(', ')}; known: ${targets.map((t) => t.name).join(', ')}`,
    );
  }
  return names.map((n) => targets.find((t) => t.name === n)!);
}
