import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dispatcher, Pool } from 'undici';
import { stringify } from 'yaml';
import { type Child, freePort, SUT_CPU, startChild } from './harness.js';
import { FAULTGATE_CLI, type Upstream, waitReady } from './targets.js';

/**
 * The faultgate process of `bench/scrape-load.ts` and the traffic that fills its metrics:
 * `agents` x `tools` keys, one tool per path (`/tool-N/call`, answered by the bench upstream
 * with 1 KiB of JSON), an `error` experiment on every tool so incidents open and then recover.
 */

export type Detail = 'tool' | 'agent' | 'full';

export interface World {
  agents: number;
  tools: number;
  detail: Detail;
  /** Probability of the error experiment while populating (chaos level 1, seed 42). */
  errorRate: number;
}

export const agentName = (i: number): string => `agent-${i}`;
export const toolName = (i: number): string => `tool-${i}`;
export const toolPath = (i: number): string => `/${toolName(i)}/call`;

export function scrapeLoadYaml(w: World, listenPort: number, adminPort: number, upstream: string): string {
  const tools = Array.from({ length: w.tools }, (_, i) => ({
    name: toolName(i),
    match: { path: `/${toolName(i)}/**`, methods: ['GET'] },
  }));
  return stringify({
    version: 1,
    listeners: [{ name: 'main', listen: `127.0.0.1:${listenPort}`, upstream }],
    admin: { listen: `127.0.0.1:${adminPort}` },
    upstream: { max_connections_per_origin: 0 },
    chaos: { level: 1, seed: 42 },
    safety: { max_affected_requests: 0 },
    // Every agent and tool keeps its own label value (the default cap is 200 per label).
    limits: { max_label_values: Math.max(200, w.agents + 1, w.tools + 1) },
    metrics: { detail: w.detail },
    tracking: { enabled: true },
    agents: { from: ['header:x-agent-id'], default: 'unknown' },
    tools,
    experiments: [
      {
        name: 'scrape-errors',
        type: 'error',
        probability: w.errorRate,
        target: { tools: ['*'], agents: ['*'], tenants: ['*'], percentage: 1 },
        config: { status: 503 },
      },
    ],
    log: { level: process.env.FAULTGATE_BENCH_LOG_LEVEL ?? 'warn' },
  });
}

export interface Faultgate {
  proxy: string;
  admin: string;
  pid: number;
  stop(): Promise<void>;
}

/** faultgate on the target core, with its own config in a temp dir; resolves once ready. */
export async function startFaultgate(
  w: World,
  upstream: Upstream,
  nodeFlags: string[],
  logFile?: string,
): Promise<Faultgate> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-scrape-load-'));
  const file = join(dir, 'faultgate.yaml');
  writeFileSync(file, scrapeLoadYaml(w, port, adminPort, upstream.url));
  let child: Child | undefined;
  try {
    ({ child } = await startChild(
      'faultgate',
      process.execPath,
      [...nodeFlags, FAULTGATE_CLI, 'start', '-c', file],
      {
        cpu: SUT_CPU,
        ready: null,
      },
    ));
    if (logFile) {
      // Everything it prints (its log, `--trace-gc` lines), for a look after the run.
      const out = createWriteStream(logFile);
      child.proc.stdout?.pipe(out);
      child.proc.stderr?.pipe(out);
    }
    await waitReady(`http://127.0.0.1:${adminPort}/readyz`, 20_000);
  } catch (err) {
    await child?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`faultgate did not start: ${String(err)}\n${child?.output.join('\n') ?? ''}`);
  }
  const running = child;
  return {
    proxy: `http://127.0.0.1:${port}`,
    admin: `http://127.0.0.1:${adminPort}`,
    pid: running.pid,
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident set size of a process in bytes, from /proc; NaN if unknown. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** One proxied GET for (agent, tool); resolves to the status after reading the whole body. */
export async function call(pool: Dispatcher, agent: number, tool: number): Promise<number> {
  const res = await pool.request({
    method: 'GET',
    path: toolPath(tool),
    headers: { 'x-agent-id': agentName(agent) },
  });
  await res.body.dump({ limit: 1 << 20 });
  return res.statusCode;
}

/**
 * Fills the metrics: every (agent, tool) key gets `perKey` requests in sequence (so an injected
 * 503 followed by a 200 is a recovered incident), `concurrency` keys at a time.
 */
export async function populate(
  w: World,
  proxy: string,
  perKey: number,
  concurrency: number,
): Promise<{ requests: number; injected: number; other: number }> {
  const pool = new Pool(proxy, { connections: concurrency });
  const keys = w.agents * w.tools;
  let next = 0;
  const counts = { requests: 0, injected: 0, other: 0 };
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const k = next++;
      for (let i = 0; i < perKey; i++) {
        const status = await call(pool, Math.floor(k / w.tools), k % w.tools);
        counts.requests++;
        if (status === 503) counts.injected++;
        else if (status !== 200) counts.other++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  return counts;
}

/** `PUT /api/v1/chaos/level`: 0 after populating, so the measured traffic is all pass-through. */
export async function setLevel(admin: string, level: number): Promise<void> {
  const res = await fetch(`${admin}/api/v1/chaos/level`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ level }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT /api/v1/chaos/level: ${res.status} ${text}`);
}

/**
 * `--nice N`: sets the priority of every thread of the bench's own processes (faultgate, the
 * upstream, this one), so a shared machine's other work disturbs the wall-clock figures less.
 * setpriority(2) acts on one thread on Linux, hence the walk over /proc/PID/task.
 */
export function renice(pids: number[], nice: number): void {
  for (const pid of pids) {
    const tids = readdirSync(`/proc/${pid}/task`);
    execFileSync('renice', ['-n', String(nice), '-p', ...tids], { stdio: 'ignore' });
  }
}
