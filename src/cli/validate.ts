/** `faultgate validate FILE` (or `-c FILE`): checks a config without starting anything. */
import { readFileSync } from 'node:fs';
import { interceptWarnings } from '../tls/warnings.js';
import { type CliIo, type Command, guarded, parseCommand, UsageError } from './command.js';
import { loadOrExplain } from './config-file.js';

const help = `Usage: faultgate validate FILE
       faultgate validate -c FILE

Checks a config file and prints every problem as FILE:LINE:COL  path.to.key  message, with a
"did you mean" for a misspelt key.

Options:
  -c, --config FILE  the file (also the positional FILE; FAULTGATE_CONFIG)
  -h, --help         this help

Exit codes: 0 valid; 2 invalid (every problem on stderr) or usage error.`;

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    1,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const given = values.config as string | undefined;
  if (given !== undefined && positionals[0] !== undefined && given !== positionals[0])
    throw new UsageError(`two files given ("${given}" and "${positionals[0]}"): validate checks one`);
  const file = given ?? positionals[0] ?? (io.env.FAULTGATE_CONFIG || undefined);
  if (file === undefined) throw new UsageError('validate needs a FILE');
  const config = loadOrExplain(file, io);
  // Warnings (exit 0): e.g. TLS interception reachable beyond loopback without an admin token.
  for (const w of interceptWarnings(file, readFileSync(file, 'utf8'), config)) io.stderr.write(`${w}\n`);
  io.stdout.write(`${file}: ok\n`);
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('validate', help, io, () => run(argv, io)),
};
