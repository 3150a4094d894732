import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flood, type FloodResult } from './soak-flood.js';
import { soakConfigYaml } from './soak-config.js';
import { type Backends, createClients, MIX, runOne, startBackends } from './soak-traffic.js';
import { counterChecks, parseMetrics, percentile, rssOf, type SoakMinute, sumOf } from './soak-checks.js';

/**
 * `npm run soak -- --minutes N [--workers W] [--no-flood] [--out FILE]` (default 10 minutes,
 * 24 workers): steady mixed load through one `faultgate start` process (JSON tools, LLM JSON and
 * SSE, MCP, CONNECT-served HTTP, opaque tunnels, WebSockets), every fault type at 10%, a reload
 * every 30 s, a session created, started and aborted every minute, /metrics scraped every 5 s.
 * First (unless --no-flood) a connection flood: 10k idle and 5k slow clients.
 * Prints and writes (JSON) per minute: req/s, p50/p99, RSS, heap, handles, event-loop delay.
 * Exits 1 when RSS grows after minute 2 by more than RSS_GROWTH_BOUND, handles do not return to
 * their baseline after the load, the last minute's throughput is below 0.9 x the second's, or
 * the counters disagree.
 */

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const MINUTES = opt('--minutes', 10);
const WORKERS = opt('--workers', 24);
const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1]! : '.reliability/soak.json';
const FLOOD = !args.includes('--no-flood');
/** A shorter "minute" for trying the script out; the figures are per minute only at the default. */
const MINUTE_MS = opt('--minute-ms', 60_000);
/** RSS may grow this much between the end of minute 2 and the end of the run. */
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;
/** The soak's own keep-alive connections to the admin API (scrapes, reloads, sessions) count as handles. */
const ADMIN_CONNECTIONS = 2;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function startFaultgate(file: string): Promise<{ child: ChildProcess; url: string; admin: string }> {
  const child = spawn(process.execPath, ['dist/src/cli.js', 'start', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let url = '';
  const admin = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.once('exit', (code) => reject(new Error(`faultgate exited with ${code}`)));
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = JSON.parse(buf.slice(0, nl)) as { msg: string; address?: string };
        buf = buf.slice(nl + 1);
        if (line.msg === 'listening') url = `http://${line.address}`;
        if (line.msg === 'admin listening') {
          child.stdout!.off('data', onData);
          child.stdout!.resume(); // the fault log is not read, only drained
          resolve(`http://${line.address}`);
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
  });
  return { child, url, admin };
}

async function scrape(admin: string): Promise<Map<string, number>> {
  return parseMetrics(await (await fetch(`${admin}/metrics`)).text());
}

/** Create, start and abort one session, as an operator would. */
async function sessionCycle(admin: string, n: number): Promise<void> {
  const created = await fetch(`${admin}/api/v1/chaos/sessions`, {
    method: 'POST',
    body: JSON.stringify({
      name: `soak-${n}`,
      experiments: [{ name: 'e', type: 'latency', probability: 0.1, config: { min_ms: 1, max_ms: 5 } }],
    }),
  });
  const { id } = (await created.json()) as { id: string };
  await (await fetch(`${admin}/api/v1/chaos/sessions/${id}/start`, { method: 'POST' })).text();
  await sleep(1000);
  await (await fetch(`${admin}/api/v1/chaos/sessions/${id}/abort`, { method: 'POST' })).text();
}

function pickKind(i: number) {
  const total = MIX.reduce((s, m) => s + m.weight, 0);
  let r = (i * 7919) % total;
  for (const m of MIX) {
    if (r < m.weight) return m;
    r -= m.weight;
  }
  return MIX[0]!;
}

async function main(): Promise<void> {
  const backends: Backends = await startBackends();
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-soak-'));
  const file = join(dir, 'proxy.yaml');
  const upstream = `http://127.0.0.1:${backends.httpPort}`;
  let generation = 0;
  writeFileSync(file, soakConfigYaml(upstream, generation));
  const fg = await startFaultgate(file);
  const port = Number(new URL(fg.url).port);
  console.log(
    `faultgate pid ${fg.child.pid} on ${fg.url}, admin ${fg.admin}; ${MINUTES} min, ${WORKERS} workers`,
  );
  const first = await scrape(fg.admin);
  // A renamed metric would read as 0 and pass every check: the soak refuses to run blind.
  for (const name of [
    'nodejs_active_handles',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_p99_seconds',
  ]) {
    if (![...first.keys()].some((k) => k === name || k.startsWith(`${name}{`)))
      throw new Error(`the scrape has no ${name}: the soak's metric names are out of date`);
  }
  const baseline = sumOf(first, 'nodejs_active_handles');

  let floodResult: FloodResult | undefined;
  if (FLOOD) {
    floodResult = await flood(port, fg.admin, fg.child.pid!, { idle: 10_000, slow: 5_000 });
    console.log(`flood: ${JSON.stringify(floodResult)}`);
  }

  const clients = createClients(fg.url);
  const minutes: SoakMinute[] = [];
  let latencies: number[] = [];
  let requests = 0;
  let wireFailures = 0;
  let httpCalls = 0;
  let stop = false;
  let calls = 0;
  const worker = async () => {
    while (!stop) {
      const m = pickKind(calls++);
      const t = performance.now();
      const ok = await runOne(m.kind, fg.url, port, backends, clients);
      if (m.http) httpCalls++;
      if (!ok) wireFailures++;
      requests++;
      if (latencies.length < 500_000) latencies.push(performance.now() - t);
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);
  const start = Date.now();
  const timers = [
    setInterval(() => void scrape(fg.admin).catch(() => {}), 5000),
    setInterval(() => {
      generation++;
      writeFileSync(file, soakConfigYaml(upstream, generation));
      void fetch(`${fg.admin}/api/v1/reload`, { method: 'POST' })
        .then((r) => r.text())
        .catch(() => {});
    }, MINUTE_MS / 2),
  ];
  for (let minute = 1; minute <= MINUTES; minute++) {
    const session = sessionCycle(fg.admin, minute).catch((e: Error) =>
      console.log(`session cycle failed: ${e.message}`),
    );
    await sleep(start + minute * MINUTE_MS - Date.now());
    await session;
    const m = await scrape(fg.admin);
    const sorted = latencies.sort((a, b) => a - b);
    const row: SoakMinute = {
      minute,
      requests,
      rps: Math.round(requests / (MINUTE_MS / 1000)),
      p50_ms: Math.round(percentile(sorted, 0.5) * 10) / 10,
      p99_ms: Math.round(percentile(sorted, 0.99) * 10) / 10,
      failed_on_wire: wireFailures,
      rss_mb: Math.round(rssOf(fg.child.pid!) / 1048576),
      heap_mb: Math.round(sumOf(m, 'nodejs_heap_size_used_bytes') / 1048576),
      handles: sumOf(m, 'nodejs_active_handles'),
      eventloop_p99_ms: Math.round(sumOf(m, 'nodejs_eventloop_lag_p99_seconds') * 10000) / 10,
    };
    minutes.push(row);
    console.log(JSON.stringify(row));
    latencies = [];
    requests = 0;
    wireFailures = 0;
  }
  stop = true;
  for (const t of timers) clearInterval(t);
  console.log('load stopping');
  await Promise.all(workers);
  await clients.close();
  console.log('load stopped; waiting for handles to return to the baseline');
  backends.http.closeAllConnections();

  // Handles back to the baseline once the load stopped (keep-alive sockets closing by themselves).
  let handles = Number.NaN;
  for (let i = 0; i < 40; i++) {
    handles = sumOf(await scrape(fg.admin), 'nodejs_active_handles');
    if (handles <= baseline + ADMIN_CONNECTIONS) break;
    await sleep(500);
  }
  console.log(`handles ${handles} (baseline ${baseline}); reading the report`);
  if (handles > baseline + ADMIN_CONNECTIONS) {
    const m = await scrape(fg.admin);
    const kinds = [...m].filter(([k]) => k.startsWith('nodejs_active_resources{'));
    console.log(`active resources: ${kinds.map(([k, v]) => `${k.slice(k.indexOf('{'))}=${v}`).join(' ')}`);
  }
  const report = (await (await fetch(`${fg.admin}/api/v1/report?format=json`)).json()) as Parameters<
    typeof counterChecks
  >[1];
  // The flood's idle clients each sent one request, and one more went through while flooded.
  const floodRequests = floodResult ? floodResult.idle_opened + 1 : 0;
  const failures: string[] = counterChecks(await scrape(fg.admin), report, httpCalls + floodRequests);
  if (handles > baseline + ADMIN_CONNECTIONS)
    failures.push(
      `active handles ${handles} > baseline ${baseline} (+${ADMIN_CONNECTIONS}) after the load stopped`,
    );
  if (minutes.length >= 3) {
    const growth = (minutes.at(-1)!.rss_mb - minutes[1]!.rss_mb) * 1048576;
    if (growth > RSS_GROWTH_BOUND)
      failures.push(
        `RSS grew ${(growth / 1048576).toFixed(0)} MB after minute 2 (bound ${RSS_GROWTH_BOUND / 1048576} MB)`,
      );
  }
  if (minutes.length >= 2 && minutes.at(-1)!.rps < 0.9 * minutes[1]!.rps)
    failures.push(`last minute ${minutes.at(-1)!.rps} req/s < 0.9 x minute 2 (${minutes[1]!.rps} req/s)`);
  if (fg.child.exitCode !== null) failures.push(`faultgate exited with ${fg.child.exitCode}`);

  fg.child.kill('SIGTERM');
  console.log('faultgate stopping');
  await Promise.race([backends.close(), sleep(15_000)]);
  const result = {
    area: 'soak',
    date: new Date().toISOString(),
    machine: machine(),
    minutes: MINUTES,
    workers: WORKERS,
    http_calls: httpCalls,
    flood_requests: floodRequests,
    handles: { baseline, after: handles },
    flood: floodResult,
    per_minute: minutes,
    failures,
  };
  mkdirSync(join(OUT, '..'), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  console.log(failures.length === 0 ? `soak passed (${OUT})` : `soak FAILED:\n  ${failures.join('\n  ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

function machine(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`;
}

await main();
