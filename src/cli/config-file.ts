/** Loading a config file for `start` and `validate`: every problem printed, then exit 2. */
import { fileURLToPath } from 'node:url';
import { formatProblem, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CliError, type CliIo, EXIT_USAGE } from './command.js';

/** The example config shipped in the package (`faultgate start` without `-c`). */
export const bundledConfig = fileURLToPath(new URL('../../../proxy.example.yaml', import.meta.url));

export const configHelp =
  '  -c, --config FILE  the YAML config (FAULTGATE_CONFIG; default: the bundled proxy.example.yaml)';

export function loadOrExplain(file: string, io: CliIo): Config {
  const result = loadConfigFile(file, io.env);
  if (result.ok) return result.config;
  for (const p of result.problems) io.stderr.write(`${formatProblem(p)}\n`);
  io.stderr.write(`faultgate: ${result.problems.length} problem(s) in ${file}\n`);
  // Everything is said: the error only carries the exit code.
  throw new CliError('', EXIT_USAGE);
}
