import { parseArgs } from 'node:util';
import { initCa } from '../tls/ca.js';
import { trustInstructions } from '../tls/trust.js';

const usage = `Usage: faultgate ca init [--dir DIR] [--force]

Creates the interception CA (ECDSA P-256, for testing only) in DIR (default ./.faultgate/ca,
or FAULTGATE_CA_DIR): ca.pem, ca-key.pem (mode 0600) and bundle.pem (system roots + the CA),
then prints how to trust it. An existing CA is kept unless --force.`;

/** `faultgate ca ...`; returns the exit code (0 ok, 2 usage or CA error). */
export async function caCommand(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`faultgate: ${(e as Error).message}\n\n${usage}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(`${usage}\n`);
    return 0;
  }
  if (positionals[0] !== 'init' || positionals.length > 1) {
    err(`faultgate: ca needs the subcommand "init"\n\n${usage}\n`);
    return 2;
  }
  try {
    const files = await initCa(values.dir, values.force ?? false);
    out(`Created the faultgate CA.\n\n${trustInstructions(files)}`);
    return 0;
  } catch (e) {
    err(`faultgate: ${(e as Error).message}\n`);
    return 2;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: process.env.FAULTGATE_CA_DIR ?? './.faultgate/ca' },
      force: { type: 'boolean', default: process.env.FAULTGATE_FORCE === '1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
