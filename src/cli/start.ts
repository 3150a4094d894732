/** `faultgate start [-c FILE]` (and bare `faultgate`): runs the proxy until SIGTERM or SIGINT. */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { relative, resolve } from 'node:path';
import type { Faultgate } from '../faultgate.js';
import { LOG_FORMATS, type LogFormat, prettyDestination } from '../observe/log-format.js';
import {
  CliError,
  type CliIo,
  type Command,
  EXIT_USAGE,
  guarded,
  isTty,
  parseCommand,
  UsageError,
} from './command.js';
import { bundledConfig, configHelp, loadOrExplain } from './config-file.js';
import { type EchoUpstream, startEchoUpstream } from './echo-upstream.js';
import { startupScreen } from './startup-screen.js';

const help = `Usage: faultgate start [-c FILE] [--log-format pretty|json]
       faultgate [-c FILE]

Runs the proxy: the listeners, the admin API (/healthz, /readyz, /metrics, /api/v1) and the
config's experiments as the session "default". The config reloads on file change, SIGHUP or
POST /api/v1/reload; SIGTERM or Ctrl-C drains in-flight requests (up to 10 s) and exits 0.

Without -c it runs the bundled proxy.example.yaml and serves a tiny built-in echo upstream for
it (FAULTGATE_EXAMPLE_UPSTREAM), so the printed curl line answers at once.

On a terminal it prints a summary (where to point an agent, experiments armed, how to stop
chaos) and human log lines; otherwise JSON log lines only (pino).

Options:
${configHelp}
  --log-format F     pretty (default on a terminal) or json (default otherwise) (FAULTGATE_LOG_FORMAT)
  -h, --help         this help

Exit codes: 0 after a clean shutdown; 1 shutdown failed; 2 invalid config, address in use or usage error.`;

function logFormat(given: string | undefined, io: CliIo): LogFormat {
  const format = given ?? (io.env.FAULTGATE_LOG_FORMAT || (isTty(io) ? 'pretty' : 'json'));
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`unknown log format "${format}": use pretty or json`);
  return format as LogFormat;
}

function version(): string {
  return (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
}

async function run(argv: string[], io: CliIo): Promise<number | undefined> {
  const { values } = parseCommand(
    argv,
    {
      config: { type: 'string', short: 'c' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    0,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const format = logFormat(values['log-format'] as string | undefined, io);
  const given = (values.config as string | undefined) ?? (io.env.FAULTGATE_CONFIG || undefined);
  const file = given ?? bundledConfig;
  // The bundled example (by default or named with -c) points its reverse listener at
  // FAULTGATE_EXAMPLE_UPSTREAM: serve it, unless that variable names an upstream of the user's.
  const example = resolve(file) === bundledConfig && !io.env.FAULTGATE_EXAMPLE_UPSTREAM;
  const echo: EchoUpstream | undefined = example ? await startEchoUpstream() : undefined;
  if (echo) io.env.FAULTGATE_EXAMPLE_UPSTREAM = echo.url;
  let fg: Faultgate;
  try {
    fg = await startProxy(file, format, io);
  } catch (err) {
    await echo?.close();
    throw err;
  }
  if (format === 'pretty') {
    const screen = { fg, version: version(), configFile: relative(process.cwd(), file) || file };
    const tryIt = echo ? { example: { upstream: echo.url, tryPath: '/echo/hello' } } : {};
    io.stdout.write(startupScreen({ ...screen, ...tryIt }));
  }
  handleSignals(fg, io);
  return undefined;
}

async function startProxy(file: string, format: LogFormat, io: CliIo): Promise<Faultgate> {
  // Loaded here, not at the top: `faultgate start --help` should not load the whole proxy.
  const [{ Faultgate }, { createLogger }] = await Promise.all([
    import('../faultgate.js'),
    import('../observe/logger.js'),
  ]);
  const config = loadOrExplain(file, io);
  const logger = createLogger(
    config.log.level,
    format === 'pretty' ? prettyDestination(io.stdout) : undefined,
  );
  try {
    return await Faultgate.start(config, { configPath: file, watch: true, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(
      e.code === 'EADDRINUSE' ? `cannot listen: address in use (${e.message})` : e.message,
      EXIT_USAGE,
    );
  }
}

function handleSignals(fg: Faultgate, io: CliIo): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the drain.
      fg.logger.warn({ signal }, 'second signal: exiting without draining');
      fg.logger.flush?.();
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    stopping = true;
    fg.logger.info({ signal }, 'shutting down: draining in-flight requests');
    fg.close().then(
      () => process.exit(0),
      (err: Error) => {
        io.stderr.write(`faultgate: shutdown failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The reload logs its own outcome (applied, or rejected with every problem).
  process.on('SIGHUP', () => void fg.reload('signal'));
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('start', help, io, () => run(argv, io)),
};
