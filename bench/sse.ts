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
 *
 * Before it is measured, every target forwards `--warm-events` events per stream 1 ms apart
 * (10 streams), so that a JIT-compiled proxy is measured in the state a long-lived process is
 * in, not in its first thousand events. `--pin same` puts the target on the client's and the
 * upstream's core: no event then waits for an idle core to wake, and every target (nginx
 * included) shares the one core the same way. See docs/performance.md ("SSE streams").
 */

const USAGE = `usage: node dist/bench/sse.js [--streams 1,100,500] [--events 50] [--duration-ms 1000]
       [--runs 3] [--only direct,reference,reference-256,nginx,faultgate] [--pin split|same|off]
       [--warm-events 2000] [--markdown] [--quiet-wait 120] [--retries 2]
  --pin split (or auto): client and upstream on core 0, the target on core 1 (each event crosses cores twice)
  --pin same: every process on core 0 (no cross-core wake-up; all targets share the core alike)`;

const flags = parseFlags({
  streams: '1,100,500',
  events: '50',
  'duration-ms': '1000',
  runs: '3',
  only: 'direct,reference,reference-256,nginx,faultgate',
  pin: 'split',
  'warm-events': '2000',
  markdown: 'false',
  'quiet-wait': '120',
  retries: '2',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!['auto', 'split', 'same', 'off'].includes(flags.pin)) {
  console.error(`--pin ${flags.pin}: expected split, same or off\n${USAGE}`);
  process.exit(2);
}
setPinning(flags.pin !== 'off');
const sameCore = flags.pin === 'same';
const warmEvents = Number(flags['warm-events']);
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

async function stream(agent: Agent, url: string, expected: number): Promise<StreamResult> {
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
          result.ok = seen === expected;
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
async function round(
  running: Running,
  upstreamPid: number,
  n: number,
  shape = { events, durationMs },
): Promise<RunStats> {
  const agent = new Agent({ connections: null, pipelining: 1 });
  const url = `${running.url}/sse?events=${shape.events}&duration_ms=${shape.durationMs}`;
  const window = cpuWindow([running.pid, upstreamPid]);
  try {
    const results = await Promise.all(Array.from({ length: n }, () => stream(agent, url, shape.events)));
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
  console.log(
    '\ntargets (issue 13): added p50 <= 0.15 ms at 1 stream; first-event p99 at 500 streams <= nginx in the same run',
  );
}

const running = new Map<Target, Running>();

async function main(): Promise<void> {
  pin(process.pid, LOAD_CPU);
  console.log(machineLine('client: undici, one connection per stream'));
  if (!pinning()) console.log('!! taskset unavailable or --pin off: processes are not pinned');
  else if (sameCore)
    console.log(`--pin same: every target moved to core ${LOAD_CPU} with the client and the upstream`);
  console.log(`warm-up: 10 streams of 50 events, then 10 of ${warmEvents} events 1 ms apart, per target`);
  const upstream = await startUpstreamProcess();
  // The warm-up round (JIT) doubles as the check that streams get through.
  skipped = await startTargets(chosen, upstream, running, async (t, r) => {
    // With --pin same the target joins the client and the upstream on their core.
    if (sameCore && r.pid !== upstream.child.pid) pin(r.pid, LOAD_CPU);
    const s = await round(r, upstream.child.pid, 10);
    if (s.ok !== 10) throw new Error(`${t.name}: only ${s.ok}/10 warm-up streams completed`);
    if (warmEvents > 0) {
      // Events 1 ms apart (one chunk each): the pass-through code is JIT-compiled before it is measured.
      const w = await round(r, upstream.child.pid, 10, { events: warmEvents, durationMs: warmEvents });
      if (w.ok !== 10) throw new Error(`${t.name}: only ${w.ok}/10 JIT warm-up streams completed`);
    }
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
