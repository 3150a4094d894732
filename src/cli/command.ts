/**
 * What every `faultgate <command>` module exports, and the argument parsing they share: each
 * command owns its options and help text; src/cli.ts only picks the command.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Exit codes (SPEC section 1): 1 is also "the admin API refused the operation" for admin verbs. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  argv0?: string;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What src/cli/<command>.ts exports as `command`. */
export interface Command {
  /** The command's own `--help`: usage, options, environment, exit codes. */
  help: string;
  /** Resolves to the exit code, or to `undefined` for a command that keeps running (`start`). */
  run(argv: string[], io: CliIo): Promise<number | undefined>;
}

/** A problem the user can fix by changing the command line: printed with a hint, exit 2. */
export class UsageError extends Error {}

/** A problem the user can fix elsewhere (a file, the admin URL): one line, no usage, exit code given. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedCommand {
  values: { [option: string]: string | boolean | undefined };
  positionals: string[];
}

/**
 * `parseArgs`, strict, with at most `maxPositionals` positionals: an unknown option or a stray
 * argument is a UsageError that names it.
 */
export function parseCommand(argv: string[], options: Options, maxPositionals: number): ParsedCommand {
  let parsed: ParsedCommand;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as ParsedCommand;
  } catch (err) {
    // Node's message goes on about `--` after the first sentence; the first is what was wrong.
    throw new UsageError((err as Error).message.split('. ')[0]!.replace(/\.$/, ''));
  }
  if (parsed.positionals.length > maxPositionals) {
    const stray = parsed.positionals.slice(maxPositionals).map((p) => `"${p}"`);
    throw new UsageError(`unexpected argument${stray.length > 1 ? 's' : ''} ${stray.join(' ')}`);
  }
  return parsed;
}

/**
 * Whether output is for a person: a TTY, or `FAULTGATE_FORCE_TTY=1` (tests, `script`-less
 * pseudo-terminals); `FAULTGATE_FORCE_TTY=0` forces machine output.
 */
export function isTty(io: CliIo, stream: 'stdout' | 'stderr' = 'stdout'): boolean {
  const forced = io.env.FAULTGATE_FORCE_TTY;
  if (forced === '1' || forced === 'true') return true;
  if (forced === '0' || forced === 'false') return false;
  return io[stream].isTTY === true;
}

/** Runs a command's body, turning its UsageError / CliError into the message and exit code. */
export async function guarded(
  name: string,
  help: string,
  io: CliIo,
  body: () => Promise<number | undefined>,
): Promise<number | undefined> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(
        `faultgate ${name}: ${err.message}\n${help.split('\n\n')[0]}\n(faultgate ${name} --help for every option)\n`,
      );
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      if (err.message) io.stderr.write(`faultgate ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
