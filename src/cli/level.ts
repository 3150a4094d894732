/** `faultgate level [VALUE]`: reads or sets the chaos level of a running faultgate. */
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import { type CliIo, type Command, guarded, parseCommand, UsageError } from './command.js';
import { jsonHelp, jsonOption, printJson, wantsJson } from './output.js';

const help = `Usage: faultgate level           print the chaos level
       faultgate level VALUE     set it: 0 turns chaos off, 1 is the configured probabilities (0..10)

A level set here survives config reloads until the file's own chaos.level changes.

Options:
${adminHelp}
${jsonHelp}
  -h, --help      this help
${tokenHelp}

Exit codes: 0 done; 1 the admin API refused the value; 2 usage error or the admin API cannot be reached.`;

/** GET/PUT /api/v1/chaos/level (docs/api.md). */
interface ChaosStatus {
  level: number;
  level_source?: string;
  aborted?: boolean;
  abort_reason?: string | null;
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { ...adminOption, ...jsonOption, help: { type: 'boolean', short: 'h' } },
    1,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const raw = positionals[0];
  const level = raw === undefined ? undefined : Number(raw);
  if (level !== undefined && (raw!.trim() === '' || !Number.isFinite(level) || level < 0 || level > 10))
    throw new UsageError(`level "${raw}" is not a number from 0 to 10`);
  const client = AdminClient.from(values.admin as string | undefined, io.env);
  const answer =
    level === undefined
      ? await client.request<ChaosStatus>('GET', 'api/v1/chaos/level')
      : await client.request<ChaosStatus>('PUT', 'api/v1/chaos/level', { level });
  if (wantsJson(values, io)) printJson(io, answer);
  else {
    const off = answer.level === 0 ? ' (chaos off)' : '';
    const source = answer.level_source === 'api' ? ' (set over the API; kept across reloads)' : '';
    const aborted = answer.aborted
      ? `\nchaos is aborted${answer.abort_reason ? ` (${answer.abort_reason})` : ''}: faultgate resume, or start a session, re-arms it`
      : '';
    io.stdout.write(`chaos level ${answer.level}${off}${source}${aborted}\n`);
  }
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('level', help, io, () => run(argv, io)),
};
