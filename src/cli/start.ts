/** `faultgate start [-c FILE]` (and bare `faultgate`): runs the proxy until SIGTERM or SIGINT. */
import { constants } from 'node:os';
import { Faultgate } from '../faultgate.js';
import { CliError, type CliIo, type Command, EXIT_USAGE, guarded, parseCommand } from './command.js';
import { bundledConfig, configHelp, loadOrExplain } from './config-file.js';

const help = `Usage: faultgate start [-c FILE]
       faultgate [-c FILE]

Runs the proxy: the listeners, the admin API (/healthz, /readyz, /metrics, /api/v1) and the
config's experiments as the session "default". The config reloads on file change, SIGHUP or
POST /api/v1/reload; SIGTERM or Ctrl-C drains in-flight requests (up to 10 s) and exits 0.

Options:
${configHelp}
  -h, --help         this help

Exit codes: 0 after a clean shutdown; 1 shutdown failed; 2 invalid config, address in use or usage error.`;

async function run(argv: string[], io: CliIo): Promise<number | undefined> {
  const { values } = parseCommand(
    argv,
    { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    0,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const file = (values.config as string | undefined) ?? (io.env.FAULTGATE_CONFIG || bundledConfig);
  const config = loadOrExplain(file, io);
  let fg: Faultgate;
  try {
    fg = await Faultgate.start(config, { configPath: file, watch: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(
      e.code === 'EADDRINUSE' ? `cannot listen: address in use (${e.message})` : e.message,
      EXIT_USAGE,
    );
  }
  handleSignals(fg, io);
  return undefined;
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
