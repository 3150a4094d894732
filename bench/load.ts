import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { commandExists, cpuSeconds, LOAD_CPU, percentile, pinnedCommand } from './harness.js';

/**
 * Load generators for the end-to-end bench: wrk when it is installed (C, epoll, one thread on
 * one core: it leaves the most CPU to the upstream sharing its core), else autocannon in this
 * process (the bench pins itself to the load core). Both keep `connections` keep-alive
 * connections busy for `durationS` and report req/s and latency percentiles in ms.
 */

export interface LoadSpec {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx/3xx responses: a run with any is suspect. */
  errors: number;
  /** CPU time the load generator used, in core-seconds per second. */
  cpu: number;
}

export interface LoadGenerator {
  name: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function wrkDuration(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  return m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out: string): Omit<LoadResult, 'cpu'> {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: wrkDuration(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: wrkDuration(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    requests: num(/(\d+) requests in/),
    errors:
      (errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) +
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

const wrk: LoadGenerator = {
  name: 'wrk',
  run(spec) {
    const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--latency', '--timeout', '10s'];
    for (const [k, v] of Object.entries(spec.headers)) args.push('-H', `${k}: ${v}`);
    const [file, argv] = pinnedCommand(LOAD_CPU, 'wrk', [...args, spec.url]);
    return new Promise((resolve, reject) => {
      const proc = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let cpu = 0;
      proc.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      proc.stderr.on('data', (d: Buffer) => {
        out += d;
      });
      // Sampled just before wrk prints its summary and exits (its /proc entry goes with it).
      const sampler = setTimeout(
        () => {
          cpu = cpuSeconds(proc.pid ?? -1) / spec.durationS;
        },
        spec.durationS * 1000 - 50,
      );
      proc.once('error', reject);
      proc.once('exit', (code) => {
        clearTimeout(sampler);
        const r = parseWrk(out);
        if (code !== 0 || Number.isNaN(r.rps)) reject(new Error(`wrk failed (${code}):\n${out}`));
        else resolve({ ...r, cpu });
      });
    });
  },
};

const autocannonGenerator: LoadGenerator = {
  name: 'autocannon',
  async run(spec) {
    // autocannon's own histogram keeps whole milliseconds; collect exact times instead.
    let times = new Float64Array(1 << 16);
    let n = 0;
    const before = process.cpuUsage();
    let instance!: autocannon.Instance;
    const done = new Promise<autocannon.Result>((resolve, reject) => {
      const opts = {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        headers: spec.headers,
      };
      instance = autocannon(opts, (err: unknown, result: autocannon.Result) =>
        err ? reject(err) : resolve(result),
      );
    });
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 400) return;
      if (n === times.length) {
        const grown = new Float64Array(times.length * 2);
        grown.set(times);
        times = grown;
      }
      times[n++] = ms;
    });
    const result = await done;
    const used = process.cpuUsage(before);
    const sorted = times.subarray(0, n).sort();
    return {
      rps: result.requests.total / result.duration,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      requests: result.requests.total,
      errors: result.errors + result.timeouts + result.non2xx,
      cpu: (used.user + used.system) / 1e6 / result.duration,
    };
  },
};

/** wrk if installed, else autocannon; `preferred` forces one. */
export function loadGenerator(preferred?: string): LoadGenerator {
  if (preferred === 'autocannon') return autocannonGenerator;
  if (preferred === 'wrk' || (preferred !== 'autocannon' && commandExists('wrk'))) {
    if (!commandExists('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
    return wrk;
  }
  return autocannonGenerator;
}
