/** `faultgate abort-all [--reason TEXT]`: the big red button, over the admin API. */
import type { SessionView } from '../chaos/control.js';
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import { type CliIo, type Command, guarded, parseCommand } from './command.js';
import { jsonHelp, jsonOption, printJson, wantsJson } from './output.js';

const help = `Usage: faultgate abort-all [--reason TEXT]

Aborts every running chaos session, the config's default session included, and ends the faults
in flight.

Options:
${adminHelp}
  --reason TEXT   recorded as the sessions' abort_reason (default abort_all)
${jsonHelp}
  -h, --help      this help
${tokenHelp}

Exit codes: 0 done (also when nothing was running); 2 usage error or the admin API cannot be reached.`;

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    argv,
    { ...adminOption, ...jsonOption, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    0,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const client = AdminClient.from(values.admin as string | undefined, io.env);
  const body = values.reason === undefined ? {} : { reason: values.reason };
  const answer = await client.request<{ aborted: SessionView[] }>('POST', 'api/v1/chaos/abort-all', body);
  if (wantsJson(values, io)) printJson(io, answer);
  else if (answer.aborted.length === 0) io.stdout.write('no session was running\n');
  else {
    const names = answer.aborted.map((s) => s.name).join(', ');
    io.stdout.write(`aborted ${answer.aborted.length} session(s): ${names}\n`);
  }
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('abort-all', help, io, () => run(argv, io)),
};
