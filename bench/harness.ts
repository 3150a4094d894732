import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Shared plumbing of the bench scripts: flags, child processes, CPU pinning, statistics, tables. */

export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/**
 * `--name value` flags, every one a string with a default; unknown flags are an error. A flag
 * whose default is 'false' is a switch: `--name` alone gives 'true'.
 */
export function parseFlags<T extends Record<string, string>>(defaults: T): T & { help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    help: { type: 'boolean' },
  };
  for (const [name, value] of Object.entries(defaults)) {
    options[name] = { type: value === 'false' ? 'boolean' : 'string' };
  }
  const { values } = parseArgs({ options, allowPositionals: false });
  const out: Record<string, string | boolean> = { ...defaults };
  for (const [name, value] of Object.entries(values))
    out[name] = typeof value === 'boolean' ? String(value) : (value ?? '');
  return { ...out, help: values.help === true } as unknown as T & { help: boolean };
}

export function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Pinning. On this 2-core machine the proxy under test gets core 1 for itself; the load
// generator (wrk, or this process) and the upstream share core 0, for every target. So
// "direct" is exactly the proxied setup minus the proxy: the same client and upstream on the
// same core, and whatever a proxy adds (its hop, its CPU) is the difference. (Moving the
// upstream to core 1 for "direct" would give it a core the proxied runs do not have, and
// charge that contention on core 0 to the proxy.)

export const LOAD_CPU = 0;
export const SUT_CPU = 1;

let tasksetChecked: boolean | undefined;
let pinningWanted = true;

export function setPinning(wanted: boolean): void {
  pinningWanted = wanted;
}

export function pinning(): boolean {
  if (!pinningWanted) return false;
  if (tasksetChecked === undefined) {
    // Decided once, before this process pins itself (which shrinks its own CPU set).
    tasksetChecked = false;
    if (os.availableParallelism() < 2) return false;
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** Moves a running process (all its threads) to one core; a no-op without taskset. */
export function pin(pid: number, cpu: number): void {
  if (pinning()) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

export function pinnedCommand(cpu: number | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu !== undefined && pinning() ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

export function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The last lines it printed, for error messages. */
  output: string[];
  stop(): Promise<void>;
}

const children = new Set<Child>();

/** Stops every child still running; bench scripts call this on exit and on SIGINT. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
}

process.once('SIGINT', () => {
  void stopAll().then(() => process.exit(130));
});

/**
 * Starts a node (or other) process, pinned to `cpu`, and waits until a line of its output
 * matches `ready` (`null`: at once, the caller polls). Output is always drained: a child whose
 * pipe fills up stalls.
 */
export function startChild(
  name: string,
  cmd: string,
  args: string[],
  opts: { cpu?: number; ready: RegExp | null; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<{ child: Child; match: RegExpMatchArray }> {
  const [file, argv] = pinnedCommand(opts.cpu, cmd, args);
  const proc = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    name,
    proc,
    pid: proc.pid ?? -1,
    output,
    async stop() {
      children.delete(child);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  children.add(child);
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void child.stop();
      reject(new Error(`${name}: ${why}\n  ${file} ${argv.join(' ')}\n  last output:\n${output.join('\n')}`));
    };
    const timer = setTimeout(() => fail('not ready in time'), opts.timeoutMs ?? 20_000);
    // No ready line (nginx, haproxy print nothing): the caller polls the port instead.
    if (opts.ready === null) {
      done = true;
      clearTimeout(timer);
      resolve({ child, match: [''] as unknown as RegExpMatchArray });
    }
    const onLine = (line: string) => {
      output.push(line);
      if (output.length > 40) output.shift();
      const match = done || !opts.ready ? null : line.match(opts.ready);
      if (match) {
        done = true;
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (data: string) => {
        const lines = (rest + data).split('\n');
        rest = lines.pop()!;
        lines.forEach(onLine);
      });
    }
    proc.once('error', (err) => fail(err.message));
    proc.once('exit', (code, signal) => fail(`exited early (${signal ?? code})`));
  });
}

/** A free loopback port: bind 0, read it, close. Racy in general, acceptable for a bench. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** CPU time (user + system, all threads) of a process in seconds, from /proc; NaN if unknown. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the ")".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Busy CPU seconds of the whole machine, steal included, from /proc/stat. Interrupt time is
 * included too: on this kernel a process's own time includes the softirq work done on its
 * behalf (loopback traffic), so leaving it out would make "other" negative.
 */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts a CPU accounting window over the given processes (and this one). The function it
 * returns gives each process's use in cores and `other`: what the rest of the machine used,
 * minus `extra` cores that the caller knows are its own (e.g. wrk, which has exited by then).
 */
export function cpuWindow(pids: number[]): (extra?: number) => { cores: Map<number, number>; other: number } {
  const unique = [...new Set(pids)];
  const before = unique.map(cpuSeconds);
  const machine = machineBusySeconds();
  const own = process.cpuUsage();
  const started = performance.now();
  return (extra = 0) => {
    const elapsed = (performance.now() - started) / 1000;
    const cores = new Map(unique.map((pid, i) => [pid, (cpuSeconds(pid) - before[i]!) / elapsed]));
    const used = process.cpuUsage(own);
    const ours = [...cores.values()].reduce((a, b) => a + b, 0) + (used.user + used.system) / 1e6 / elapsed;
    return { cores, other: (machineBusySeconds() - machine) / elapsed - ours - extra };
  };
}

/** Cores' worth of CPU that processes other than this one used over `ms`. */
async function otherLoad(ms: number): Promise<number> {
  const before = machineBusySeconds();
  const own = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(own);
  return (machineBusySeconds() - before - (used.user + used.system) / 1e6) / (ms / 1000);
}

/** Above this, in cores, something else is running and measurements are noise. */
export const BUSY_THRESHOLD = 0.2;

/**
 * Waits (at most `maxS` seconds) until the machine is idle apart from this process, as a
 * shared development machine often is not (a test suite running beside the bench). Returns
 * whether it got quiet.
 */
export async function waitQuiet(maxS: number): Promise<boolean> {
  const until = Date.now() + maxS * 1000;
  let warned = false;
  for (;;) {
    const load = await otherLoad(500);
    if (load < BUSY_THRESHOLD || Number.isNaN(load)) return true;
    if (Date.now() > until) {
      console.error(
        `!! still busy after ${maxS}s (${Math.round(load * 100)}% of a core used by others): measuring anyway`,
      );
      return false;
    }
    if (!warned)
      console.error(`.. machine busy (${Math.round(load * 100)}% of a core used by others), waiting`);
    warned = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function fmt(n: number, digits = 2): string {
  if (Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function printTable(header: string[], rows: string[][], markdown = false): void {
  if (markdown) {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    console.log(
      [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n'),
    );
    return;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log([line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n'));
}

/** The line a README quotes next to the numbers. */
export function machineLine(extra: string): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const pin = pinning() ? `pinned: load+upstream core ${LOAD_CPU}, target core ${SUT_CPU}` : 'not pinned';
  return `${new Date().toISOString().slice(0, 10)}  ${os.cpus().length} x ${cpu}, ${os.platform()} ${os.release()}, node ${process.version}, ${pin}, ${extra}`;
}
