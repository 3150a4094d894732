/** `faultgate reload`: asks a running faultgate to re-read its config file (like SIGHUP). */
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import { type CliIo, type Command, guarded, parseCommand } from './command.js';
import { jsonHelp, jsonOption, printJson, wantsJson } from './output.js';

const help = `Usage: faultgate reload

Asks a running faultgate to re-read and validate its config file. A valid file is swapped in
(requests in flight keep the config they started with); an invalid one is rejected with every
problem and the running config stays.

Options:
${adminHelp}
${jsonHelp}
  -h, --help      this help
${tokenHelp}

Exit codes: 0 reloaded; 1 the new config was rejected (its problems are printed); 2 usage error
or the admin API cannot be reached.`;

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
  const answer = await client.request<{ result: string; config_hash: string }>('POST', 'api/v1/reload');
  if (wantsJson(values, io)) printJson(io, answer);
  else io.stdout.write(`config reloaded (hash ${answer.config_hash})\n`);
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('reload', help, io, () => run(argv, io)),
};
