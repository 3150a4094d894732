import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { MetricsDetail, MetricsRegistry } from '../src/observe/exposition.js';
import { Metrics } from '../src/observe/metrics.js';
import type { ExchangeOutcome } from '../src/observe/outcome.js';
import { RecoveryTracker } from '../src/observe/tracker.js';
import { fmt, isMain, machineLine, median, parseFlags, printTable, waitQuiet } from './harness.js';

/**
 * `/metrics` at scale: scrape time and size with 200 agents x 50 tools (issue 13's targets:
 * <= 50 ms and <= 5 MB), per `metrics.detail`, per metric family so it is clear where the time
 * goes, for two traffic shapes: `dense` (every (agent, tool) had a recovered incident, so every
 * recovery histogram exists) and `sparse` (1 in 10 did). Also: the per-request metric update,
 * observe() per request, heap per (agent, tool), and RSS over `--rss-scrapes` scrapes.
 * Sizes are exact and load-independent; times move with the machine's load.
 *
 *   npm run bench:scrape [-- --agents 200 --tools 50 --scrapes 5 --detail tool,full --markdown 1]
 */

const slos = { availability: 0.99, latency_p99_ms: 2000, mttr_s: 30, recovery_window_s: 60 };

function outcome(agent: string, tool: string, at: number, ok: boolean): ExchangeOutcome {
  return {
    agent,
    tenant: 'acme',
    tool,
    method: 'POST',
    path: `/${tool}`,
    bodyKey: 'len:42',
    startedAt: at,
    endedAt: at + 20 + (at % 500),
    status: ok ? 200 : 503,
    success: ok,
    ...(ok ? {} : { failure: 'status' as const }),
    injected: ok ? [] : ['error'],
    brokenByFault: false,
  };
}

interface World {
  tracker: RecoveryTracker;
  metrics: Metrics | undefined;
  requests: number;
}

/**
 * Every key gets 4 successes; one key in `every` also gets fail, fail (then the successes close
 * it as a recovery), and one in 10 of those an incident that expires unrecovered.
 */
function build(
  agents: string[],
  tools: string[],
  every: number,
  withMetrics: boolean,
  detail: MetricsDetail = 'tool',
): World {
  const cap = Math.max(agents.length, tools.length, 200);
  const metrics = withMetrics ? new Metrics(cap, detail) : undefined;
  const tracker = new RecoveryTracker({
    slos,
    tools: [],
    maxLabelValues: cap,
    metricsDetail: detail,
    ...(metrics
      ? { registry: metrics.registry, labelCaps: { agents: metrics.agents, tools: metrics.tools } }
      : {}),
    now: () => 0,
  });
  let requests = 0;
  let at = 1_000_000;
  const send = (o: ExchangeOutcome): void => {
    if (metrics) {
      const stats = metrics.exchange(o.agent, o.tool);
      (o.success ? stats.success : stats.injectedFailure).inc();
      stats.duration.observe((o.endedAt - o.startedAt) / 1000);
    }
    tracker.observe(o);
    requests++;
  };
  let n = 0;
  let incidents = 0;
  for (const agent of agents) {
    for (const tool of tools) {
      at += 7;
      const chaos = n++ % every === 0;
      if (chaos) {
        send(outcome(agent, tool, at, false));
        send(outcome(agent, tool, at + 300, false));
      }
      for (let i = 0; i < 4; i++) send(outcome(agent, tool, at + 900 + i * 50, true));
      if (chaos && incidents++ % 10 === 0) send(outcome(agent, tool, at + 2000, false));
    }
  }
  tracker.sweep(at + 10 * 60_000); // the pending incidents expire as unrecovered
  return { tracker, metrics, requests };
}

async function time(fn: () => Promise<unknown> | unknown, count: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Median ms per family; families under 1 ms are folded into one line. */
async function families(registry: Registry, count: number): Promise<[string, number, number][]> {
  const out: [string, number, number][] = [];
  let small = 0;
  for (const m of registry.getMetricsAsArray()) {
    let lines = 0;
    const ms = await time(async () => {
      lines = (await registry.getSingleMetricAsString(m.name)).split('\n').length - 2;
    }, count);
    if (ms < 1) small += ms;
    else out.push([m.name, ms, lines]);
  }
  out.push(['(all others)', small, Number.NaN]);
  return out;
}

/** ns per observe() on a warm tracker: successes and failures of keys that already exist. */
function timeObserve(tracker: RecoveryTracker, agents: string[], tools: string[], ops: number): number {
  const outcomes = Array.from({ length: 1024 }, (_, i) =>
    outcome(agents[i % agents.length]!, tools[(i * 7) % tools.length]!, 5_000_000 + i * 10, i % 20 !== 0),
  );
  for (let i = 0; i < 100_000; i++) tracker.observe(outcomes[i & 1023]!);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) tracker.observe(outcomes[i & 1023]!);
  return Number(process.hrtime.bigint() - t0) / ops;
}

function heapPerKey(agents: string[], tools: string[]): number {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const w = build(agents, tools, 1, false);
  global.gc?.();
  const bytes = process.memoryUsage().heapUsed - before;
  w.tracker.close();
  return bytes / w.tracker.size;
}

/** ns per exchange-metric update (lookup, one counter, one histogram) on warm keys. */
function timeUpdate(agents: string[], tools: string[], ops: number): number {
  const m = new Metrics(Math.max(agents.length, tools.length, 200), 'tool');
  const keys = Array.from({ length: 1024 }, (_, i) => [
    agents[i % agents.length]!,
    tools[(i * 7) % tools.length]!,
  ]);
  const update = (i: number): void => {
    const [agent, tool] = keys[i & 1023]!;
    const stats = m.exchange(agent!, tool!);
    stats.success.inc();
    stats.duration.observe((i & 255) / 1000);
  };
  for (let i = 0; i < 100_000; i++) update(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) update(i);
  return Number(process.hrtime.bigint() - t0) / ops;
}

/**
 * The longest the scrape holds the event loop: CPU ms of its slowest slice (the work between
 * two yields), median over `count` scrapes. CPU, not wall time, so other processes do not move
 * it; the proxied requests' p99 during scrapes follows it (bench/scrape-load.ts).
 */
async function longestSlice(registry: MetricsRegistry, count: number): Promise<number> {
  const worst: number[] = [];
  for (let i = 0; i < count; i++) {
    let max = 0;
    const slices = registry.slices();
    for (;;) {
      const c0 = process.cpuUsage();
      const { done } = await slices.next();
      const c = process.cpuUsage(c0);
      max = Math.max(max, (c.user + c.system) / 1000);
      if (done) break;
    }
    worst.push(max);
  }
  return median(worst);
}

/** RSS before and after `count` scrapes of one world (flat means nothing accumulates). */
async function rssOver(registry: Registry, count: number): Promise<[number, number]> {
  await registry.metrics();
  global.gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) await registry.metrics();
  global.gc?.();
  return [before, process.memoryUsage().rss];
}

async function scrapeWorld(
  agents: string[],
  tools: string[],
  shape: string,
  every: number,
  detail: MetricsDetail,
  flags: Record<string, string | boolean>,
): Promise<void> {
  const md = flags.markdown !== '';
  const scrapes = Number(flags.scrapes);
  const w = build(agents, tools, every, true, detail);
  const registry = w.metrics!.registry;
  await registry.metrics(); // warm up
  const cpu0 = process.cpuUsage();
  const whole = await time(() => registry.metrics(), scrapes);
  const cpu = process.cpuUsage(cpu0);
  // CPU time moves less than wall time when other processes load the machine.
  const cpuMs = (cpu.user + cpu.system) / 1000 / scrapes;
  const bytes = Buffer.byteLength(await registry.metrics());
  const slice = await longestSlice(registry as MetricsRegistry, scrapes);
  console.log(
    `\n${shape}, metrics.detail ${detail}: ${w.tracker.size} keys, ${w.requests} requests; whole /metrics ${fmt(whole, 1)} ms wall, ${fmt(cpuMs, 1)} ms CPU (target <= 50 ms), ${fmt(bytes / 1e6, 2)} MB (target <= 5 MB), longest slice ${fmt(slice, 2)} ms CPU`,
  );
  const rows = (await families(registry, scrapes)).map(([name, ms, lines]) => [
    name,
    fmt(ms, 1),
    Number.isNaN(lines) ? '' : String(lines),
  ]);
  printTable(['metric family', 'ms', 'lines'], rows, md);
  const rssScrapes = Number(flags['rss-scrapes']);
  if (rssScrapes > 0) {
    const [before, after] = await rssOver(registry, rssScrapes);
    console.log(`RSS over ${rssScrapes} scrapes: ${fmt(before / 1e6, 0)} MB -> ${fmt(after / 1e6, 0)} MB`);
  }
  w.tracker.close();
}

async function main(): Promise<void> {
  const flags = parseFlags({
    agents: '200',
    tools: '50',
    scrapes: '5',
    ops: '1000000',
    detail: 'tool,agent,full',
    shapes: 'dense,sparse',
    'rss-scrapes': '100',
    'quiet-wait': '60',
    markdown: '',
  });
  if (flags.help) {
    console.log(
      'node --expose-gc dist/bench/scrape.js [--agents 200] [--tools 50] [--scrapes 5] [--detail tool,agent,full] [--shapes dense,sparse] [--rss-scrapes 100] [--quiet-wait 60] [--markdown 1]',
    );
    return;
  }
  const md = flags.markdown !== '';
  const scrapes = Number(flags.scrapes);
  const agents = Array.from({ length: Number(flags.agents) }, (_, i) => `agent-${i}`);
  const tools = Array.from({ length: Number(flags.tools) }, (_, i) => `tool-${i}`);
  await waitQuiet(Number(flags['quiet-wait']));
  console.log(machineLine(`${agents.length} agents x ${tools.length} tools`));

  const bare = build(agents, tools, 1, false);
  const observeNs = timeObserve(bare.tracker, agents, tools, Number(flags.ops));
  const updateNs = timeUpdate(agents, tools, Number(flags.ops));
  const reportMs = await time(() => bare.tracker.report({ seed: null, configHash: '' }), scrapes);
  const perKey = global.gc ? `${fmt(heapPerKey(agents, tools) / 1024, 2)} KiB` : '(run with --expose-gc)';
  printTable(
    ['per request and tracker', 'value'],
    [
      ['exchange metrics update per request (target <= 500 ns)', `${fmt(updateNs, 0)} ns`],
      ['tracker observe() per request', `${fmt(observeNs, 0)} ns`],
      ['report() build', `${fmt(reportMs, 1)} ms`],
      ['heap per (agent, tool), no registry', perKey],
    ],
    md,
  );

  const shapes = { dense: 1, sparse: 10 } as Record<string, number>;
  for (const shape of flags.shapes!.split(',')) {
    for (const detail of flags.detail!.split(',') as MetricsDetail[]) {
      await scrapeWorld(agents, tools, shape, shapes[shape] ?? 1, detail, flags);
    }
  }
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
