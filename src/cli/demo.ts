/**
 * `faultgate demo [--duration S] [--seed N]` (SPEC section 1): self-contained, no network, no
 * config. Mock LLM and tools, faultgate in front of them with chaos on, a naive and a resilient
 * agent side by side, live progress, then the report. Same seed, same numbers.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { NaiveAgent, ResilientAgent, demoTasks, runPaced } from '../demo/agents.js';
import { ToolClient } from '../demo/client.js';
import { demoConfig } from '../demo/config.js';
import { startMockUpstream } from '../demo/mock-upstream.js';
import { Progress, progressLine } from '../demo/progress.js';
import { Faultgate } from '../faultgate.js';
import { createLogger } from '../observe/logger.js';
import { renderReport } from '../observe/report/index.js';
import type { Report, ReportFormat } from '../observe/report-model.js';
import type { Command } from './command.js';

export const DEFAULT_DURATION_S = 20;
export const DEFAULT_SEED = 42;
/** One task (4 tool calls, more with retries) per agent every second (see demo/config.ts). */
const PACE_MS = 1000;

export const demoUsage = `Usage: faultgate demo [--duration S] [--seed N] [--report PATH]

Starts a mock OpenAI-style LLM (JSON and SSE), a search API, a backup search and an MCP weather
server on loopback, puts faultgate in front of them with chaos on, and runs two sample agents
side by side: a naive one (no retries, accepts cut streams) and a resilient one (backoff,
Retry-After, fallback to the backup search, asks again when a stream is cut). Progress every
second, then the report. Nothing leaves the machine.

  --duration S   how long the agents work (default ${DEFAULT_DURATION_S}; FAULTGATE_DURATION)
  --seed N       the chaos and the tasks; the same seed gives the same numbers
                 (default ${DEFAULT_SEED}; FAULTGATE_SEED); measured times (latency, MTTR)
                 and the scores they enter vary a little from run to run
  --report PATH  also write the report: json, markdown or html by PATH's extension, else
                 terminal text (FAULTGATE_REPORT)

Exit codes: 0 the demo ran, 2 usage error or the report could not be written.`;

export interface DemoIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

interface DemoOptions {
  duration: number;
  seed: number;
  report: string | undefined;
}

const EXTENSION_FORMATS: Record<string, ReportFormat> = {
  '.json': 'json',
  '.md': 'markdown',
  '.html': 'html',
};

function number(name: string, text: string, min: number, max: number, integer: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new Error(
      `--${name} "${text}" must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`,
    );
  return n;
}

function options(argv: string[], env: NodeJS.ProcessEnv): DemoOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      duration: { type: 'string', default: env.FAULTGATE_DURATION || String(DEFAULT_DURATION_S) },
      seed: { type: 'string', default: env.FAULTGATE_SEED || String(DEFAULT_SEED) },
      report: { type: 'string', default: env.FAULTGATE_REPORT || undefined },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  return {
    duration: number('duration', values.duration, 1, 3600, false),
    seed: number('seed', values.seed, 0, 2 ** 31 - 1, true),
    report: values.report,
  };
}

export async function demoCommand(argv: string[], io: DemoIo = process): Promise<number> {
  let opts: DemoOptions | 'help';
  try {
    opts = options(argv, io.env);
  } catch (err) {
    io.stderr.write(`faultgate demo: ${(err as Error).message}\n\n${demoUsage}\n`);
    return 2;
  }
  if (opts === 'help') {
    io.stdout.write(`${demoUsage}\n`);
    return 0;
  }
  const report = await runDemo(opts, io);
  const color = io.stdout.isTTY === true && !io.env.NO_COLOR;
  io.stdout.write(`\n${renderReport(report, 'terminal', { color })}`);
  io.stdout.write(`\n${verdict(report)}\n`);
  if (!opts.report) return 0;
  const format = EXTENSION_FORMATS[extname(opts.report).toLowerCase()] ?? 'terminal';
  try {
    await writeFile(opts.report, renderReport(report, format));
  } catch (err) {
    io.stderr.write(`faultgate demo: cannot write ${opts.report}: ${(err as Error).message}\n`);
    return 2;
  }
  io.stdout.write(`${format} report written to ${opts.report}\n`);
  return 0;
}

async function runDemo(opts: DemoOptions, io: DemoIo): Promise<Report> {
  const mock = await startMockUpstream();
  const fg = await Faultgate.start(demoConfig(mock.url, opts.seed), {
    logger: createLogger('warn', io.stderr),
  });
  const dispatcher = new Agent({ connections: 4 });
  try {
    const url = fg.listeners[0]!.url;
    const tasks = demoTasks(opts.seed, Math.max(1, Math.floor((opts.duration * 1000) / PACE_MS)));
    const agents = [
      new NaiveAgent(new ToolClient(url, 'naive', dispatcher)),
      new ResilientAgent(new ToolClient(url, 'resilient', dispatcher), opts.seed),
    ];
    io.stdout.write(
      `faultgate demo: ${tasks.length} tasks per agent over ~${opts.duration} s, seed ${opts.seed}; mocks at ${mock.url}, faultgate at ${url}\n`,
    );
    const names = agents.map((a) => a.name);
    const progress = new Progress(io.stdout, (s) => progressLine(s, fg.report()!, names));
    progress.start();
    try {
      await Promise.all(agents.map((a) => runPaced(a, tasks, PACE_MS)));
    } finally {
      progress.stop();
    }
    // The agents are done: what is still open will not recover (as `faultgate run` does at exit).
    fg.tracker!.closeAll();
    return fg.report()!;
  } finally {
    await dispatcher.close();
    await fg.close(1000);
    await mock.close();
  }
}

function verdict(report: Report): string {
  const row = (name: string) => report.agents.find((a) => a.agent === name);
  const n = row('naive');
  const r = row('resilient');
  if (!n || !r) return '';
  return `naive: grade ${n.grade} (score ${n.score}), resilient: grade ${r.grade} (score ${r.score}). The difference is retries, Retry-After, a fallback and re-asking on a cut stream.`;
}

export const command: Command = { help: demoUsage, run: (argv, io) => demoCommand(argv, io) };
