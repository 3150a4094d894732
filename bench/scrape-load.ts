import { Client, Pool } from 'undici';
import {
  BUSY_THRESHOLD,
  fmt,
  LOAD_CPU,
  machineLine,
  median,
  parseFlags,
  percentile,
  pin,
  printTable,
  setPinning,
  stopAll,
  waitQuiet,
} from './harness.js';
import { measureRun, type RunResult, type RunSpec, scrapeOnce, summarize } from './scrape-load-run.js';
import {
  type Detail,
  type Faultgate,
  populate,
  renice,
  rssBytes,
  setLevel,
  startFaultgate,
  type World,
} from './scrape-load-setup.js';
import { startUpstreamProcess, type Upstream } from './targets.js';

/**
 * Issue 13: the proxy's p99 while Prometheus scrapes. A real faultgate process (target core)
 * in front of the bench upstream; 200 agents x 50 tools of real traffic (with injected errors
 * that recover) fill its metrics; then proxied GETs at a fixed, moderate rate, alternately
 * without and with a scraper fetching `/metrics` every `--interval` seconds. Prints p50/p99/max
 * of the proxied requests per mode (medians over `--rounds`), the scrape's duration and size,
 * faultgate's CPU per scrape and its RSS from the first scrape to the `--rss-scrapes`th.
 */

const USAGE = `usage: node dist/bench/scrape-load.js [--agents 200] [--tools 50] [--detail tool|agent|full]
       [--rate 1000] [--in-flight 64] [--duration 10] [--rounds 5] [--warmup 2] [--interval 1]
       [--per-key 5] [--error-rate 0.3] [--rss-scrapes 100] [--quiet-wait 30] [--retries 1] [--pin auto|off]
       [--node-flags="--max-semi-space-size=16"] [--faultgate-log FILE] [--nice=-10] [--markdown]`;

const flags = parseFlags({
  agents: '200',
  tools: '50',
  detail: 'tool',
  rate: '1000',
  'in-flight': '64',
  duration: '10',
  rounds: '5',
  warmup: '2',
  interval: '1',
  'per-key': '5',
  'error-rate': '0.3',
  'rss-scrapes': '100',
  'quiet-wait': '30',
  retries: '1',
  pin: 'auto',
  'node-flags': '',
  'faultgate-log': '',
  nice: '0',
  markdown: 'false',
});

const md = flags.markdown !== 'false';
const mb = (n: number) => `${fmt(n / 1e6, 1)} MB`;
const ms = (n: number) => fmt(n, 2);

/** Lines per family and the series the bench must have created; throws when one is missing. */
function checkSeries(w: World, text: string): [string, string][] {
  const lines = new Map<string, number>();
  let family = '';
  const keys = new Set<string>();
  let durationSeries = 0;
  let recoverySeries = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) family = line.split(' ')[2]!;
    if (line === '' || line.startsWith('#')) continue;
    lines.set(family, (lines.get(family) ?? 0) + 1);
    if (line.startsWith('faultgate_requests_total{')) {
      keys.add(/agent="[^"]*",tool="[^"]*"/.exec(line)?.[0] ?? '');
    }
    if (line.startsWith('faultgate_request_duration_seconds_count{')) durationSeries++;
    if (line.startsWith('faultgate_recovery_seconds_count{')) recoverySeries++;
  }
  const expectedDuration = { tool: w.tools, agent: w.agents, full: w.agents * w.tools }[w.detail];
  const problems: string[] = [];
  if (keys.size !== w.agents * w.tools)
    problems.push(`faultgate_requests_total has ${keys.size} (agent, tool) keys, not ${w.agents * w.tools}`);
  if (durationSeries !== expectedDuration)
    problems.push(`faultgate_request_duration_seconds has ${durationSeries} series, not ${expectedDuration}`);
  if (recoverySeries === 0) problems.push('no faultgate_recovery_seconds series: no incident recovered');
  if (problems.length) throw new Error(`series check failed:\n  ${problems.join('\n  ')}`);
  const total = [...lines.values()].reduce((a, b) => a + b, 0);
  return [
    ['sample lines', String(total)],
    ['(agent, tool) keys in faultgate_requests_total', String(keys.size)],
    ['faultgate_request_duration_seconds series', String(durationSeries)],
    ['faultgate_recovery_seconds series', String(recoverySeries)],
    ['faultgate_incidents_total lines', String(lines.get('faultgate_incidents_total') ?? 0)],
    ['faultgate_faults_injected_total lines', String(lines.get('faultgate_faults_injected_total') ?? 0)],
  ];
}

function runRow(r: RunResult, round: number): string[] {
  const sorted = r.scrapes.map((s) => s.ms).sort((a, b) => a - b);
  return [
    r.scraping ? 'scraping' : 'no scrapes',
    String(round),
    String(r.requests),
    ms(r.p50),
    ms(r.p99),
    ms(r.max),
    String(r.errors),
    `${fmt(r.faultgateCpu * 100, 0)}%`,
    `${fmt(r.otherCpu * 100, 0)}%`,
    r.scraping ? `${r.scrapes.length}` : '',
    r.scraping ? ms(percentile(sorted, 50)) : '',
    r.scraping ? ms(percentile(sorted, 99)) : '',
  ];
}

async function rounds(spec: Omit<RunSpec, 'scrapeEveryMs'>): Promise<RunResult[]> {
  const everyMs = Number(flags.interval) * 1000;
  if (Number(flags.warmup) > 0)
    await measureRun({ ...spec, durationS: Number(flags.warmup), scrapeEveryMs: 0 });
  const out: RunResult[] = [];
  const rows: string[][] = [];
  for (let round = 1; round <= Number(flags.rounds); round++) {
    // Alternate which mode goes first, so a drift in the machine's load spreads over both.
    for (const scraping of round % 2 ? [false, true] : [true, false]) {
      let r = await measureRun({ ...spec, scrapeEveryMs: scraping ? everyMs : 0 });
      // Something else ran during the run (a test suite on this shared machine): measure again.
      for (let retry = 0; retry < Number(flags.retries) && r.otherCpu > BUSY_THRESHOLD; retry++) {
        console.error(`.. ${fmt(r.otherCpu * 100, 0)}% of a core used by others during the run: again`);
        await waitQuiet(Number(flags['quiet-wait']));
        r = await measureRun({ ...spec, scrapeEveryMs: scraping ? everyMs : 0 });
      }
      out.push(r);
      rows.push(runRow(r, round));
      console.error(`.. round ${round} ${scraping ? 'scraping' : 'no scrapes'}: p99 ${ms(r.p99)} ms`);
    }
  }
  printTable(
    [
      'mode',
      'round',
      'requests',
      'p50 ms',
      'p99 ms',
      'max ms',
      'errors',
      'cpu faultgate',
      'cpu other',
      'scrapes',
      'scrape p50 ms',
      'scrape p99 ms',
    ],
    rows,
    md,
  );
  return out;
}

function summary(runs: RunResult[], rss: [string, number][]): void {
  const without = summarize(runs.filter((r) => !r.scraping));
  const withS = summarize(runs.filter((r) => r.scraping));
  const scraped = runs.filter((r) => r.scraping);
  const scrapes = scraped.flatMap((r) => r.scrapes);
  const times = scrapes.map((s) => s.ms).sort((a, b) => a - b);
  // faultgate CPU the scrapes added: CPU with minus without, per scrape (traffic is the same).
  const perRun = median(scraped.map((r) => r.scrapes.length));
  const extraCpuMs =
    ((median(scraped.map((r) => r.faultgateCpuS)) -
      median(runs.filter((r) => !r.scraping).map((r) => r.faultgateCpuS))) *
      1000) /
    perRun;
  const rounds = Number(flags.rounds);
  const diffs = Array.from({ length: rounds }, (_, i) => {
    const pair = runs.slice(2 * i, 2 * i + 2);
    return pair.find((r) => r.scraping)!.p99 - pair.find((r) => !r.scraping)!.p99;
  });
  console.log('');
  printTable(
    ['summary (medians over rounds)', 'no scrapes', 'scraping'],
    [
      ['proxied p50 ms', ms(without.p50), ms(withS.p50)],
      ['proxied p99 ms', ms(without.p99), ms(withS.p99)],
      ['proxied max ms', ms(without.max), ms(withS.max)],
      ['faultgate CPU', `${fmt(without.cpu * 100, 0)}%`, `${fmt(withS.cpu * 100, 0)}%`],
      ['CPU used by other processes', `${fmt(without.other * 100, 0)}%`, `${fmt(withS.other * 100, 0)}%`],
    ],
    md,
  );
  console.log('');
  printTable(
    ['figure', 'value'],
    [
      ['p99 scraping minus p99 without (target <= +5 ms)', `${ms(withS.p99 - without.p99)} ms`],
      ['same, median of the per-round differences', `${ms(median(diffs))} ms`],
      [
        'scrape duration p50 / p99 (as the scraper saw it)',
        `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))} ms`,
      ],
      ['bytes per scrape', mb(median(scrapes.map((s) => s.bytes)))],
      ['faultgate CPU per scrape (scraping minus no scrapes)', `${fmt(extraCpuMs, 1)} ms`],
      ...rss.map(([what, bytes]): [string, string] => [`faultgate RSS ${what}`, mb(bytes)]),
    ],
    md,
  );
}

async function setup(w: World, upstream: Upstream): Promise<[Faultgate, number]> {
  const nodeFlags = flags['node-flags'] ? flags['node-flags'].split(' ').filter(Boolean) : [];
  const fg = await startFaultgate(w, upstream, nodeFlags, flags['faultgate-log'] || undefined);
  const perKey = Number(flags['per-key']);
  const t0 = Date.now();
  const counts = await populate(w, fg.proxy, perKey, 32);
  console.log(
    `populated ${w.agents} agents x ${w.tools} tools: ${counts.requests} requests in ${fmt((Date.now() - t0) / 1000, 1)} s, ${counts.injected} injected 503s, ${counts.other} other non-200s`,
  );
  await setLevel(fg.admin, 0);
  return [fg, rssBytes(fg.pid)];
}

async function main(): Promise<void> {
  if (flags.help) return console.log(USAGE);
  setPinning(flags.pin !== 'off');
  pin(process.pid, LOAD_CPU);
  const w: World = {
    agents: Number(flags.agents),
    tools: Number(flags.tools),
    detail: flags.detail as Detail,
    errorRate: Number(flags['error-rate']),
  };
  const upstream = await startUpstreamProcess();
  const [fg, rssStart] = await setup(w, upstream);
  if (Number(flags.nice) !== 0) renice([fg.pid, upstream.child.pid, process.pid], Number(flags.nice));
  const admin = new Client(fg.admin);
  const proxy = new Pool(fg.proxy, { connections: Number(flags['in-flight']) });
  try {
    const first = await scrapeOnce(admin);
    const text = await (await fetch(`${fg.admin}/metrics`)).text();
    console.log(
      `\n/metrics at metrics.detail ${w.detail}: ${mb(first.bytes)}, first scrape ${ms(first.ms)} ms`,
    );
    printTable(['series check', 'value'], checkSeries(w, text), md);
    const rssFirst = rssBytes(fg.pid);
    await waitQuiet(Number(flags['quiet-wait']));
    console.log(
      `\n${machineLine(`${w.agents} agents x ${w.tools} tools, metrics.detail ${w.detail}, ${flags.rate} req/s (<= ${flags['in-flight']} in flight), ${flags.duration} s runs, scrape every ${flags.interval} s`)}`,
    );
    const runs = await rounds({
      world: w,
      proxy,
      admin,
      faultgatePid: fg.pid,
      upstreamPid: upstream.child.pid,
      rate: Number(flags.rate),
      durationS: Number(flags.duration),
      inFlight: Number(flags['in-flight']),
    });
    let done = 2 + runs.reduce((n, r) => n + r.scrapes.length, 0);
    const rssRuns = rssBytes(fg.pid);
    while (done < Number(flags['rss-scrapes'])) {
      await scrapeOnce(admin);
      done++;
    }
    summary(runs, [
      ['after populating, before any scrape', rssStart],
      ['after the first scrape', rssFirst],
      [
        `after the runs (${done} scrapes, ${runs.reduce((n, r) => n + r.requests, 0)} more requests)`,
        rssRuns,
      ],
      [`after ${done} scrapes`, rssBytes(fg.pid)],
    ]);
  } finally {
    await Promise.all([admin.close(), proxy.close()]);
    await fg.stop();
    await stopAll();
  }
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopAll();
  process.exitCode = 1;
});
