import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { type BenchRedis, fleetYaml, startBenchRedis } from './fleet-redis.js';
import {
  type Child,
  cpuSeconds,
  fmt,
  freePort,
  parseFlags,
  percentile,
  printTable,
  SUT_CPU,
  startChild,
  stopAll,
} from './harness.js';
import { FAULTGATE_CLI, startUpstreamProcess, waitReady } from './targets.js';

/**
 * Issue 15's fleet figures: (1) fleet on vs off through bench:e2e at 1 KiB (targets `faultgate`
 * and `faultgate-fleet`); (2) propagation of a session start and an abort across N instances,
 * from the `started_at` / `ended_at` each instance stamps as it applies the change (one clock:
 * one machine); (3) the outcome-stream events one Redis takes from N loaded instances, and the
 * Redis CPU they cost, to extrapolate to 100 sidecars (docs/fleet.md).
 */

const USAGE = `usage: node dist/bench/fleet.js [--instances 3] [--iterations 20] [--duration 5]
       [--e2e-runs 3] [--e2e-duration 5] [--concurrency 8] [--skip-e2e] [--markdown]`;

const flags = parseFlags({
  instances: '3',
  iterations: '20',
  duration: '5',
  'e2e-runs': '3',
  'e2e-duration': '5',
  concurrency: '8',
  'skip-e2e': 'false',
  markdown: 'false',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const markdown = flags.markdown !== 'false';

interface Instance {
  url: string;
  admin: string;
  child: Child;
}

async function startInstance(i: number, upstream: string, redis: BenchRedis, dir: string): Promise<Instance> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, `i${i}.yaml`);
  writeFileSync(
    file,
    `version: 1
listeners: [{ name: main, listen: "127.0.0.1:${port}", upstream: "${upstream}" }]
admin: { listen: "127.0.0.1:${adminPort}" }
log: { level: warn }
agents: { from: ["header:x-agent-id"] }
tools: [{ name: bench, match: { path: "/**" } }]
${fleetYaml(redis.url, `i${i}`, 'fleetbench')}`,
  );
  const { child } = await startChild(
    `faultgate-${i}`,
    process.execPath,
    [FAULTGATE_CLI, 'start', '-c', file],
    {
      cpu: SUT_CPU,
      ready: null,
    },
  );
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitReady(`${admin}/readyz`, 20_000);
  for (let n = 0; n < 200; n++) {
    const ready = (await (await fetch(`${admin}/readyz`)).json()) as { chaos: { fleet: { state: string } } };
    if (ready.chaos.fleet.state === 'connected') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, admin, child };
}

async function api(
  admin: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${admin}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** Polls one instance's view of a session until `field` is stamped; the stamp is when it applied. */
async function stamp(admin: string, id: string, field: 'started_at' | 'ended_at'): Promise<number> {
  for (let n = 0; n < 2000; n++) {
    const view = await api(admin, 'GET', `/chaos/sessions/${id}`);
    if (typeof view[field] === 'string') return Date.parse(view[field] as string);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${admin}: session ${id} never got ${field}`);
}

const session = {
  name: 'bench',
  experiments: [{ name: 'boom', type: 'error', probability: 0.001, config: { status: 503 } }],
  targeting: { agent_ids: [], tool_names: [], tenant_ids: [], percentage: 1 },
  safety: { max_affected_requests: 0 },
};

async function propagation(
  fleet: Instance[],
  iterations: number,
): Promise<{ start: number[]; abort: number[] }> {
  const start: number[] = [];
  const abort: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const id = (await api(fleet[0]!.admin, 'POST', '/chaos/sessions', session)).id as string;
    const origin = Date.parse(
      (await api(fleet[0]!.admin, 'POST', `/chaos/sessions/${id}/start`)).started_at as string,
    );
    for (const x of fleet.slice(1)) start.push((await stamp(x.admin, id, 'started_at')) - origin);
    const last = fleet[fleet.length - 1]!;
    const ended = Date.parse(
      (await api(last.admin, 'POST', `/chaos/sessions/${id}/abort`)).ended_at as string,
    );
    for (const x of fleet.slice(0, -1)) abort.push((await stamp(x.admin, id, 'ended_at')) - ended);
  }
  return { start, abort };
}

async function metric(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

async function outcomeStream(fleet: Instance[], redis: BenchRedis, durationS: number, concurrency: number) {
  const agent = new Agent({ connections: concurrency });
  const cpu0 = cpuSeconds(redis.child.pid);
  const end = Date.now() + durationS * 1000;
  let sent = 0;
  const worker = async (x: Instance, w: number) => {
    while (Date.now() < end) {
      const res = await request(`${x.url}/x`, { dispatcher: agent, headers: { 'x-agent-id': `a${w}` } });
      await res.body.dump();
      sent++;
    }
  };
  await Promise.all(fleet.flatMap((x) => Array.from({ length: concurrency }, (_, w) => worker(x, w))));
  // The last batches leave every 250 ms.
  await new Promise((r) => setTimeout(r, 1000));
  let dropped = 0;
  for (const x of fleet) dropped += await metric(x.admin, 'faultgate_fleet_outcomes_dropped_total');
  const redisCpu = cpuSeconds(redis.child.pid) - cpu0;
  await agent.close();
  return { sent, dropped, perS: (sent - dropped) / durationS, redisCpu };
}

function runE2e(): Promise<void> {
  const e2e = fileURLToPath(new URL('./e2e.js', import.meta.url));
  const args = [e2e, '--only', 'faultgate,faultgate-fleet', '--sizes', '1k', '--connections', '10'];
  args.push(
    '--runs',
    flags['e2e-runs'],
    '--duration',
    flags['e2e-duration'],
    ...(markdown ? ['--markdown'] : []),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench:e2e exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  if (flags['skip-e2e'] === 'false') {
    console.log('## fleet on vs off (bench:e2e, 1 KiB, 10 connections)');
    await runE2e();
  }
  const n = Number(flags.instances);
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-fleet-bench-'));
  try {
    const upstream = await startUpstreamProcess();
    const redis = await startBenchRedis();
    const fleet: Instance[] = [];
    for (let i = 0; i < n; i++) fleet.push(await startInstance(i, upstream.url, redis, dir));
    const { start, abort } = await propagation(fleet, Number(flags.iterations));
    const row = (what: string, xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return [
        what,
        String(s.length),
        fmt(percentile(s, 50), 0),
        fmt(percentile(s, 99), 0),
        fmt(s[s.length - 1]!, 0),
      ];
    };
    console.log(`\n## propagation across ${n} instances (ms from the instance that acted to each other one)`);
    printTable(
      ['change', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
      [row('start', start), row('abort', abort)],
      markdown,
    );
    const out = await outcomeStream(fleet, redis, Number(flags.duration), Number(flags.concurrency));
    console.log(`\n## outcome stream: ${n} instances into one Redis for ${flags.duration} s`);
    printTable(
      ['exchanges', 'dropped', 'events/s into Redis', 'Redis CPU s', 'events per Redis CPU-second'],
      [
        [
          String(out.sent),
          String(out.dropped),
          fmt(out.perS, 0),
          fmt(out.redisCpu, 2),
          fmt((out.sent - out.dropped) / out.redisCpu, 0),
        ],
      ],
      markdown,
    );
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  console.error(err);
  await stopAll();
  process.exit(1);
});
