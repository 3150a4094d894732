import { Agent, request } from 'undici';
import {
  BUSY_THRESHOLD,
  cpuWindow,
  fmt,
  LOAD_CPU,
  list,
  machineLine,
  median,
  parseFlags,
  percentile,
  pin,
  pinning,
  printTable,
  setPinning,
  stopAll,
  waitQuiet,
} from './harness.js';
import { pickTargets, startTargets, type Running, startUpstreamProcess, type Target } from './targets.js';

/**
 * Concurrent OpenAI-style streams (50 events over ~1 s each) through each target. Per stream:
 * the time from sending the request to the first event, and for every event its delivery
 * delay: the client's CLOCK_MONOTONIC at arrival minus the upstream's when it wrote the event
 * (the `t` field; both processes read the same system clock). "added" is a target's delay
 * minus the direct one's: what the hop costs per event. A pool cap (reference-256) makes the
 * streams beyond the cap wait for a whole stream to finish before their first event.
 */

const USAGE = `usage: node dist/bench/sse.js [--streams 1,100,500] [--events 50] [--duration-ms 1000]
       [--runs 3] [--only direct,reference,reference-256,nginx,faultgate] [--pin auto|off] [--markdown] [--quiet-wait 120] [--retries 2]`;

const flags = parseFlags({
  streams: '1,100,500',
  events: '50',
  'duration-ms': '1000',
  runs: '3',
  only: 'direct,reference,reference-256,nginx,faultgate',
  pin: 'auto',
  markdown: 'false',
  'quiet-wait': '120',
  retries: '2',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
setPinning(flags.pin !== 'off');
const levels = list(flags.streams).map(Number);
const events = Number(flags.events);
const durationMs = Number(flags['duration-ms']);
const runs = Number(flags.runs);
const markdown = flags.markdown !== 'false';
const headers = { 'x-agent-id': 'bench-agent', accept: 'text/event-stream' };

let chosen = pickTargets(list(flags.only));
let skipped: string[] = [];

interface StreamResult {
  ok: boolean;
  firstMs: number;
  delaysMs: number[];
}

const EVENT_T = /"t":(\d+)/;

async function stream(agent: Agent, url: string): Promise<StreamResult> {
  const t0 = process.hrtime.bigint();
  const result: StreamResult = { ok: false, firstMs: Number.NaN, delaysMs: [] };
  try {
    const { statusCode, body } = await request(url, { dispatcher: agent, headers });
    if (statusCode !== 200) {
      await body.dump();
      return result;
    }
    let buffered = '';
    let seen = 0;
    for await (const chunk of body) {
      const now = process.hrtime.bigint();
      buffered += chunk.toString();
      let end = buffered.indexOf('\n\n');
      while (end !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        if (event === 'data: [DONE]') {
          result.ok = seen === events;
          continue;
        }
        const t = EVENT_T.exec(event);
        if (!t) continue;
        if (seen++ === 0) result.firstMs = Number(now - t0) / 1e6;
        result.delaysMs.push(Number(now - BigInt(t[1]!)) / 1e6);
      }
    }
  } catch {
    result.ok = false;
  }
  return result;
}

interface RunStats {
  ok: number;
  firstP50: number;
  firstP99: number;
  delayP50: number;
  delayP99: number;
  cpu: number;
  /** Machine CPU not used by the processes of the bench: other work; should be ~0. */
  otherCpu: number;
}

/** One round: `n` streams started together, each on its own connection (a fresh client). */
async function round(running: Running, upstreamPid: number, n: number): Promise<RunStats> {
  const agent = new Agent({ connections: null, pipelining: 1 });
  const url = `${running.url}/sse?events=${events}&duration_ms=${durationMs}`;
  const window = cpuWindow([running.pid, upstreamPid]);
  try {
    const results = await Promise.all(Array.from({ length: n }, () => stream(agent, url)));
    const { cores, other } = window();
    const firsts = results.map((r) => r.firstMs).sort((a, b) => a - b);
    const delays = Float64Array.from(results.flatMap((r) => r.delaysMs)).sort();
    return {
      ok: results.filter((r) => r.ok).length,
      firstP50: percentile(firsts, 50),
      firstP99: percentile(firsts, 99),
      delayP50: percentile(delays, 50),
      delayP99: percentile(delays, 99),
      cpu: cores.get(running.pid)!,
      otherCpu: other,
    };
  } finally {
    await agent.close();
  }
}

function printSkipped(): void {
  for (const reason of skipped) console.log(`!! ${reason}`);
}

function report(results: Map<string, RunStats[]>): void {
  for (const n of levels) {
    const med = (name: string, key: keyof RunStats) =>
      median((results.get(`${n}/${name}`) ?? []).map((s) => s[key]));
    const rows = chosen.map((t) => [
      t.name,
      `${fmt(med(t.name, 'ok'), 0)}/${n}`,
      fmt(med(t.name, 'firstP50'), 1),
      fmt(med(t.name, 'firstP99'), 1),
      fmt(med(t.name, 'delayP50'), 3),
      fmt(med(t.name, 'delayP99'), 3),
      t.name === 'direct' ? '-' : fmt(med(t.name, 'delayP50') - med('direct', 'delayP50'), 3),
      t.name === 'direct' ? '-' : fmt(med(t.name, 'delayP99') - med('direct', 'delayP99'), 3),
      `${Math.round(med(t.name, 'cpu') * 100)}%`,
      `${Math.round(med(t.name, 'otherCpu') * 100)}%`,
    ]);
    console.log(
      `\n${n} concurrent stream${n === 1 ? '' : 's'}, ${events} events over ${durationMs} ms (median of ${runs})`,
    );
    printTable(
      [
        'target',
        'complete',
        'first p50 ms',
        'first p99 ms',
        'event p50 ms',
        'event p99 ms',
        'added p50 ms',
        'added p99 ms',
        'cpu target',
        'cpu other',
      ],
      rows,
      markdown,
    );
  }
  console.log('\ntarget (issue 2): first-event p99 at 500 streams <= 250 ms');
}

const running = new Map<Target, Running>();

async function main(): Promise<void> {
  pin(process.pid, LOAD_CPU);
  console.log(machineLine('client: undici, one connection per stream'));
  if (!pinning()) console.log('!! taskset unavailable or --pin off: processes are not pinned');
  const upstream = await startUpstreamProcess();
  // The warm-up round (JIT) doubles as the check that streams get through.
  skipped = await startTargets(chosen, upstream, running, async (t, r) => {
    const s = await round(r, upstream.child.pid, 10);
    if (s.ok !== 10) throw new Error(`${t.name}: only ${s.ok}/10 warm-up streams completed`);
  });
  chosen = chosen.filter((t) => running.has(t));
  const results = new Map<string, RunStats[]>();
  for (const n of levels) {
    for (let run = 0; run < runs; run++) {
      const order = chosen.map((_, i) => chosen[(i + run) % chosen.length]!);
      for (const t of order) {
        await waitQuiet(Number(flags['quiet-wait']));
        let s = await round(running.get(t)!, upstream.child.pid, n);
        // Something else ran during the round: wait for quiet and run it again.
        for (let retry = 0; s.otherCpu > BUSY_THRESHOLD && retry < Number(flags.retries); retry++) {
          console.error(
            `.. ${t.name}: ${Math.round(s.otherCpu * 100)}% of a core used by others, running again`,
          );
          await waitQuiet(Number(flags['quiet-wait']));
          s = await round(running.get(t)!, upstream.child.pid, n);
        }
        const key = `${n}/${t.name}`;
        results.set(key, [...(results.get(key) ?? []), s]);
        console.error(
          `${n} streams ${t.name} run ${run + 1}: ${s.ok}/${n} complete, first p99 ${fmt(s.firstP99, 1)} ms, event p50 ${fmt(s.delayP50, 3)} ms`,
        );
      }
    }
  }
  report(results);
  printSkipped();
}

try {
  await main();
} finally {
  await Promise.all([...running.values()].map((r) => r.stop()));
  await stopAll();
}
