/**
 * `faultgate run -c FILE [--agent NAME] [--report PATH] [--format F] [--min-grade G]
 * [--max-unrecovered N] [--log PATH] -- CMD [ARGS]` (SPEC section 1): faultgate in-process, the
 * command under it, then the report and a CI gate. The command's stdout is left to it alone:
 * faultgate writes its banner, report and verdict on stderr (like `time`).
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { formatProblem } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Faultgate } from '../faultgate.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { isReportFormat, REPORT_FORMATS, renderReport } from '../observe/report/index.js';
import type { Report, ReportFormat } from '../observe/report-model.js';
import { runChild } from '../run/child.js';
import { loadRunConfig } from '../run/config.js';
import { runEnv } from '../run/env.js';
import { GateOptionError, gateFailures, parseMaxUnrecovered, parseMinGrade } from './gate.js';
import type { Command } from './command.js';

export const runUsage = `Usage: faultgate run -c FILE [options] -- CMD [ARGS...]

Starts faultgate with FILE's listeners (no listeners: a forward proxy on a free loopback port;
no admin.listen: a free loopback port), runs CMD through it, then prints the report on stderr.
CMD gets HTTP_PROXY/HTTPS_PROXY (and lower-case) = http://AGENT:x@HOST:PORT, NO_PROXY = the admin
address, FAULTGATE_ADMIN_URL, FAULTGATE_URL, NODE_USE_ENV_PROXY=1, NODE_OPTIONS=--import <preload>
(routes fetch through the proxy on Node 20), and with tls: intercept the CA variables
(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE).

  -c, --config FILE      the config (FAULTGATE_CONFIG)
  --agent NAME           the agent's name in the proxy credentials (default: CMD's basename;
                         FAULTGATE_AGENT)
  --report PATH          also write the report to PATH (FAULTGATE_REPORT)
  --format F             terminal, json, markdown or html (default: from PATH's extension, else
                         terminal; FAULTGATE_FORMAT)
  --min-grade G          exit 1 when the overall grade is below G, A..F (FAULTGATE_MIN_GRADE)
  --max-unrecovered N    exit 1 when more than N incidents went unrecovered (FAULTGATE_MAX_UNRECOVERED)
  --log PATH             faultgate's JSON log at the config's level (default: warnings on stderr;
                         FAULTGATE_LOG)

When CMD exits, every open incident closes as unrecovered (the agent is gone).
Exit codes: CMD's own when it is not 0 (128+N when killed by signal N, 127 when not found);
otherwise 1 when --min-grade or --max-unrecovered is missed (the reason on stderr), else 0;
2 for a usage or configuration error (nothing is run).`;

class RunUsageError extends Error {}

export interface RunIo {
  env: NodeJS.ProcessEnv;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
}

interface RunOptions {
  config: string;
  agent: string;
  report: string | undefined;
  format: ReportFormat;
  gate: ReturnType<typeof gateOf>;
  log: string | undefined;
  cmd: string;
  args: string[];
}

const gateOf = (minGrade: string | undefined, maxUnrecovered: string | undefined) => ({
  minGrade: parseMinGrade(minGrade),
  maxUnrecovered: parseMaxUnrecovered(maxUnrecovered),
});

const EXTENSION_FORMATS: Record<string, ReportFormat> = {
  '.json': 'json',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.html': 'html',
  '.htm': 'html',
};

function options(argv: string[], env: NodeJS.ProcessEnv): RunOptions | 'help' {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: own,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c', default: env.FAULTGATE_CONFIG || undefined },
        agent: { type: 'string', default: env.FAULTGATE_AGENT || undefined },
        report: { type: 'string', default: env.FAULTGATE_REPORT || undefined },
        format: { type: 'string', default: env.FAULTGATE_FORMAT || undefined },
        'min-grade': { type: 'string', default: env.FAULTGATE_MIN_GRADE || undefined },
        'max-unrecovered': { type: 'string', default: env.FAULTGATE_MAX_UNRECOVERED || undefined },
        log: { type: 'string', default: env.FAULTGATE_LOG || undefined },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    const hint = dash === -1 ? ' (put the command after --)' : '';
    throw new RunUsageError(`${(err as Error).message}${hint}\n\n${runUsage}`);
  }
  if (values.help) return 'help';
  const command = dash === -1 ? [] : argv.slice(dash + 1);
  if (command.length === 0 || command[0] === '')
    throw new RunUsageError(`no command to run: faultgate run -c FILE -- CMD [ARGS]\n\n${runUsage}`);
  if (typeof values.config !== 'string') throw new RunUsageError(`run needs -c FILE\n\n${runUsage}`);
  const report = values.report as string | undefined;
  const format =
    (values.format as string | undefined) ??
    (report ? EXTENSION_FORMATS[extname(report).toLowerCase()] : undefined) ??
    'terminal';
  if (!isReportFormat(format))
    throw new RunUsageError(`unknown format "${format}": use one of ${REPORT_FORMATS.join(', ')}`);
  const [cmd, ...args] = command as [string, ...string[]];
  const agent = (values.agent as string | undefined) ?? basename(cmd).replace(/\.[^.]*$/, '');
  if (agent === '') throw new RunUsageError('--agent must not be empty');
  return {
    config: values.config,
    agent,
    report,
    format,
    gate: gateOf(values['min-grade'] as string | undefined, values['max-unrecovered'] as string | undefined),
    log: values.log as string | undefined,
    cmd,
    args,
  };
}

function logger(level: string, path: string | undefined, io: RunIo): Logger {
  // Warnings only on stderr by default: one line per injected fault would bury the command's output.
  return path
    ? createLogger(level, createWriteStream(path, { flags: 'a' }))
    : createLogger('warn', io.stderr);
}

/** Runs the command; resolves to the exit code. */
export async function runCommand(argv: string[], io: RunIo = process): Promise<number> {
  let opts: RunOptions | 'help';
  try {
    opts = options(argv, io.env);
  } catch (err) {
    if (!(err instanceof RunUsageError) && !(err instanceof GateOptionError)) throw err;
    io.stderr.write(`faultgate run: ${err.message}\n`);
    return 2;
  }
  if (opts === 'help') {
    io.stdout.write(`${runUsage}\n`);
    return 0;
  }
  const loaded = loadRunConfig(opts.config, io.env);
  if (!loaded.ok) {
    for (const p of loaded.problems) io.stderr.write(`${formatProblem(p)}\n`);
    io.stderr.write(`faultgate run: ${loaded.problems.length} problem(s) in ${opts.config}\n`);
    return 2;
  }
  const { config } = loaded;
  if (!config.tracking.enabled) {
    io.stderr.write('faultgate run: tracking.enabled is false in the config: there would be no report\n');
    return 2;
  }
  let fg: Faultgate;
  try {
    fg = await Faultgate.start(config, {
      logger: logger(config.log.level, opts.log, io),
      configPath: opts.config,
    });
  } catch (err) {
    io.stderr.write(`faultgate run: cannot start faultgate: ${(err as Error).message}\n`);
    return 2;
  }
  return underFaultgate(fg, config, opts, io);
}

async function underFaultgate(fg: Faultgate, config: Config, opts: RunOptions, io: RunIo): Promise<number> {
  const { env, proxy } = runEnv({
    config,
    listeners: fg.listeners,
    admin: fg.admin,
    agent: opts.agent,
    base: io.env,
  });
  const where = proxy ? `proxy ${proxy}` : 'no forward listener: HTTP_PROXY not set';
  io.stderr.write(`faultgate run: ${where}, admin ${env.FAULTGATE_ADMIN_URL}, agent ${opts.agent}\n`);
  if (proxy && !config.agents.from.includes('proxy_user'))
    io.stderr.write(
      `faultgate run: agents.from has no proxy_user: the agent is not named "${opts.agent}" by the proxy credentials\n`,
    );
  const end = await runChild(opts.cmd, opts.args, env);
  if (end.reason) io.stderr.write(`faultgate run: ${end.reason}\n`);
  fg.tracker!.closeAll();
  const report = fg.report()!;
  await fg.close(1000);
  const written = await emit(report, opts, io);
  if (report.overall.requests === 0)
    io.stderr.write(
      'faultgate run: no request went through faultgate: does the command honour HTTP_PROXY (or use FAULTGATE_URL)?\n',
    );
  if (end.code !== 0) return end.code;
  if (!written) return 2;
  const missed = gateFailures(report, opts.gate);
  for (const m of missed) io.stderr.write(`faultgate run: gate failed: ${m}\n`);
  return missed.length > 0 ? 1 : 0;
}

/** Prints the report on stderr and writes it to --report; false when the file could not be written. */
async function emit(report: Report, opts: RunOptions, io: RunIo): Promise<boolean> {
  const color = io.stderr.isTTY === true && !io.env.NO_COLOR;
  const printed = opts.report ? 'terminal' : opts.format;
  io.stderr.write(renderReport(report, printed, { color: color && printed === 'terminal' }));
  if (!opts.report) return true;
  try {
    await writeFile(opts.report, renderReport(report, opts.format));
  } catch (err) {
    io.stderr.write(`faultgate run: cannot write ${opts.report}: ${(err as Error).message}\n`);
    return false;
  }
  io.stderr.write(`faultgate run: ${opts.format} report written to ${opts.report}\n`);
  return true;
}

export const command: Command = { help: runUsage, run: (argv, io) => runCommand(argv, io) };
