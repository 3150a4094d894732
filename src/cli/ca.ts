import { initCa } from '../tls/ca.js';
import { trustInstructions } from '../tls/trust.js';
import {
  CliError,
  type CliIo,
  type Command,
  EXIT_USAGE,
  guarded,
  parseCommand,
  UsageError,
} from './command.js';

const help = `Usage: faultgate ca init [--dir DIR] [--force]

Creates the interception CA (ECDSA P-256, for testing only) in DIR (default ./.faultgate/ca,
or FAULTGATE_CA_DIR): ca.pem, ca-key.pem (mode 0600) and bundle.pem (system roots + the CA),
then prints how to trust it. An existing CA is kept unless --force.

Options:
  --dir DIR   where the CA lives (FAULTGATE_CA_DIR; default ./.faultgate/ca)
  --force     replace an existing CA (FAULTGATE_FORCE=1)
  -h, --help  this help

Exit codes: 0 created; 2 usage error, or the CA exists (without --force) or cannot be written.`;

/** `faultgate ca init`: 0 ok, 2 usage or CA error. */
async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      dir: { type: 'string', default: io.env.FAULTGATE_CA_DIR || './.faultgate/ca' },
      force: { type: 'boolean', default: io.env.FAULTGATE_FORCE === '1' },
      help: { type: 'boolean', short: 'h' },
    },
    1,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  if (positionals[0] !== 'init') throw new UsageError('ca needs the subcommand "init"');
  try {
    const files = await initCa(values.dir as string, (values.force as boolean | undefined) ?? false);
    io.stdout.write(`Created the faultgate CA.\n\n${trustInstructions(files)}`);
    return 0;
  } catch (e) {
    throw new CliError((e as Error).message, EXIT_USAGE);
  }
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('ca', help, io, () => run(argv, io)),
};
