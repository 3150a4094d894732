/** `faultgate resume`: re-arms chaos after abort-all (or an abort of `default`), over the admin API. */
import type { SessionView } from '../chaos/control.js';
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import { type CliIo, type Command, guarded, parseCommand } from './command.js';
import { jsonHelp, jsonOption, printJson, wantsJson } from './output.js';

const help = `Usage: faultgate resume

Re-arms chaos after abort-all, an abort of the default session or a safety abort: re-creates
the config's default session from the current config and starts it. Until then no reload brings
chaos back.

Options:
${adminHelp}
${jsonHelp}
  -h, --help      this help
${tokenHelp}

Exit codes: 0 done; 1 the admin API refused; 2 usage error or the admin API cannot be reached.`;

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    argv,
    { ...adminOption, ...jsonOption, help: { type: 'boolean', short: 'h' } },
    0,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const client = AdminClient.from(values.admin as string | undefined, io.env);
  const answer = await client.request<{ resumed: SessionView | null }>('POST', 'api/v1/chaos/resume', {});
  if (wantsJson(values, io)) printJson(io, answer);
  else
    io.stdout.write(
      answer.resumed
        ? `chaos re-armed: session ${answer.resumed.name} is ${answer.resumed.state}\n`
        : 'chaos re-armed\n',
    );
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('resume', help, io, () => run(argv, io)),
};
