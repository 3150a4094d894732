import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { commandExists, LOAD_CPU, list, median, parseFlags, pin, SUT_CPU, stopAll } from './harness.js';
import { pickTargets, type Running, startTargets, startUpstreamProcess } from './targets.js';

/**
 * Where an SSE event's time goes inside the hop, from kernel tracepoints (`perf record -a`,
 * root): for each event of one stream, the time from the upstream's write to the proxy being
 * woken, running, reading, writing, and to the client being woken and reading it. Unlike the
 * wall-clock columns of bench:sse it separates the wake-up of an idle core (the scheduler's
 * side, paid by every proxy) from the work inside the proxy (read to write). Needs `perf` with
 * the sched and syscalls tracepoints.
 */

const USAGE = `usage: node dist/bench/sse-hop.js [--only reference,nginx,faultgate] [--events 30] [--gap-ms 20]
       [--pin split|same] [--warm-events 2000]`;

const flags = parseFlags({
  only: 'reference,nginx,faultgate',
  events: '30',
  'gap-ms': '20',
  pin: 'split',
  'warm-events': '2000',
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const TRACEPOINTS = [
  'sched:sched_waking',
  'sched:sched_switch',
  'syscalls:sys_enter_write',
  'syscalls:sys_enter_writev',
  'syscalls:sys_exit_read',
  'syscalls:sys_exit_recvfrom',
  'syscalls:sys_exit_epoll_wait',
  'syscalls:sys_exit_epoll_pwait',
];

const STEPS = [
  'proxy woken',
  'proxy running',
  'proxy epoll returns',
  'proxy read',
  'proxy write',
  'client woken',
  'client running',
  'client read',
] as const;
type Step = (typeof STEPS)[number];

interface Pids {
  client: number;
  upstream: number;
  proxy: number;
}

const LINE = /^\s*(\d+)\s+\[\d+\]\s+([\d.]+):\s+(\S+):\s*(.*)$/;
const WOKEN = / pid=(\d+)/;
const NEXT = /next_pid=(\d+)/;

/** The step a trace line completes for the event in flight, if any. */
function stepOf(
  ev: string,
  tid: number,
  rest: string,
  pids: Pids,
  seen: Map<Step, number>,
): Step | undefined {
  const has = (s: Step) => seen.has(s);
  if (ev === 'sched:sched_waking') {
    const pid = Number(WOKEN.exec(rest)?.[1]);
    if (pid === pids.proxy) return 'proxy woken';
    if (pid === pids.client && has('proxy write')) return 'client woken';
    return undefined;
  }
  if (ev === 'sched:sched_switch') {
    const pid = Number(NEXT.exec(rest)?.[1]);
    if (pid === pids.proxy && has('proxy woken')) return 'proxy running';
    if (pid === pids.client && has('client woken')) return 'client running';
    return undefined;
  }
  const ready = ev.includes('exit_epoll') && !rest.trim().endsWith('0x0');
  if (tid === pids.proxy) {
    if (ready && has('proxy running')) return 'proxy epoll returns';
    if ((ev.endsWith('exit_read') || ev.endsWith('exit_recvfrom')) && has('proxy epoll returns'))
      return 'proxy read';
    if (ev.includes('enter_write') && has('proxy read')) return 'proxy write';
  }
  if (tid === pids.client && ev.endsWith('exit_read') && has('client running')) return 'client read';
  return undefined;
}

/** Per event: microseconds from the upstream's write to each step. */
function analyse(file: string, pids: Pids): Map<Step, number>[] {
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'tid,cpu,time,event,trace'], {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const events: Map<Step, number>[] = [];
  let start = 0;
  let seen: Map<Step, number> | undefined;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [tid, t, ev, rest] = [Number(m[1]), Number(m[2]) * 1e6, m[3]!, m[4]!];
    if (tid === pids.upstream && ev.startsWith('syscalls:sys_enter_write')) {
      if (seen?.has('client read')) events.push(seen);
      seen = new Map();
      start = t;
      continue;
    }
    if (!seen) continue;
    const step = stepOf(ev, tid, rest, pids, seen);
    if (step && !seen.has(step)) seen.set(step, t - start);
  }
  return events.slice(1); // the first write is the response head
}

async function stream(agent: Agent, url: string): Promise<void> {
  const { body } = await request(url, { dispatcher: agent, headers: { 'x-agent-id': 'bench-agent' } });
  for await (const _ of body);
}

async function measure(name: string, r: Running, upstreamPid: number, dir: string): Promise<void> {
  const agent = new Agent({ connections: null, pipelining: 1 });
  const events = Number(flags.events);
  const url = `${r.url}/sse?events=${events}&duration_ms=${events * Number(flags['gap-ms'])}`;
  try {
    const warm = Number(flags['warm-events']);
    if (warm > 0) {
      const fast = `${r.url}/sse?events=${warm}&duration_ms=${warm}`;
      await Promise.all(Array.from({ length: 10 }, () => stream(agent, fast)));
    }
    await stream(agent, url);
    const file = join(dir, `${name}.data`);
    const args = ['record', '-q', '-a', '-o', file, ...TRACEPOINTS.flatMap((e) => ['-e', e])];
    const perf = spawn('perf', args, { stdio: 'ignore' });
    const exited = new Promise((resolve) => perf.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // perf attaches to every CPU
    await stream(agent, url);
    perf.kill('SIGINT');
    await exited;
    const per = analyse(file, { client: process.pid, upstream: upstreamPid, proxy: r.pid });
    console.log(`\n${name}: ${per.length} events, median us after the upstream's write (step)`);
    let prev: Step | undefined;
    for (const step of STEPS) {
      const at = per.filter((e) => e.has(step)).map((e) => e.get(step)!);
      const delta = per
        .filter((e) => e.has(step) && (!prev || e.has(prev)))
        .map((e) => e.get(step)! - (prev ? e.get(prev)! : 0));
      console.log(
        `  ${step.padEnd(20)} ${median(at).toFixed(0).padStart(6)}  (+${median(delta).toFixed(0)})`,
      );
      prev = step;
    }
  } finally {
    await agent.close();
  }
}

async function main(): Promise<void> {
  if (!commandExists('perf')) throw new Error('perf is not installed');
  pin(process.pid, LOAD_CPU);
  const upstream = await startUpstreamProcess();
  const running = new Map<ReturnType<typeof pickTargets>[number], Running>();
  const chosen = pickTargets(list(flags.only));
  const skipped = await startTargets(chosen, upstream, running, async () => {});
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-sse-hop-'));
  console.log(
    `pin ${flags.pin}: client and upstream on core ${LOAD_CPU}, target on core ${flags.pin === 'same' ? LOAD_CPU : SUT_CPU}`,
  );
  try {
    for (const t of chosen) {
      const r = running.get(t);
      if (!r) continue;
      if (flags.pin === 'same') pin(r.pid, LOAD_CPU);
      await measure(t.name, r, upstream.child.pid, dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([...running.values()].map((r) => r.stop()));
    await stopAll();
  }
  for (const reason of skipped) console.log(`!! ${reason}`);
}

await main();
