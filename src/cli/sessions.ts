/**
 * `faultgate sessions [list | show ID | create -f FILE | start ID | stop ID | abort ID | delete ID]`:
 * the chaos sessions of a running faultgate, over its admin API (Toxiproxy's `toxiproxy-cli
 * list / inspect / toggle` as the anchor).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { SessionView } from '../chaos/control.js';
import { AdminClient, adminHelp, adminOption, tokenHelp } from './admin-client.js';
import {
  CliError,
  type CliIo,
  type Command,
  EXIT_USAGE,
  guarded,
  parseCommand,
  UsageError,
} from './command.js';
import { jsonHelp, jsonOption, printJson, table, wantsJson } from './output.js';

const help = `Usage: faultgate sessions [list]              list every session
       faultgate sessions show ID             one session in full
       faultgate sessions create -f FILE      create a session from a JSON or YAML body (- reads stdin)
       faultgate sessions start|stop|abort ID change a session's state
       faultgate sessions delete ID           remove a session (a running one is aborted first)

A session body is {name, experiments[], targeting, safety, duration_s} (docs/api.md).

Options:
${adminHelp}
  -f, --file FILE the session body, for create
${jsonHelp}
  -h, --help      this help
${tokenHelp}

Exit codes: 0 done; 1 the admin API refused (unknown session, a transition that makes no
sense, an invalid body); 2 usage error or the admin API cannot be reached.`;

const actions = new Set(['start', 'stop', 'abort']);

function readBody(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  try {
    // YAML is a superset of JSON: one parser reads both.
    return parseYaml(text);
  } catch (err) {
    throw new CliError(
      `${file} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`,
      EXIT_USAGE,
    );
  }
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const experimentNames = (s: SessionView) =>
  s.experiments.map((e) => `${(e as { name: string }).name}:${(e as { type: string }).type}`).join(',');

function listTable(sessions: SessionView[]): string {
  if (sessions.length === 0) return 'no sessions\n';
  // Fleet mode: a SCOPE column says which sessions every instance shares.
  const fleet = sessions.some((s) => s.scope !== undefined);
  return table(
    ['ID', 'NAME', ...(fleet ? ['SCOPE'] : []), 'STATE', 'AFFECTED', 'STARTED', 'EXPERIMENTS'],
    sessions.map((s) => [
      s.id,
      s.name,
      ...(fleet ? [s.scope ?? 'local'] : []),
      s.abort_reason ? `${s.state} (${s.abort_reason})` : s.state,
      String(s.affected_requests),
      when(s.started_at),
      experimentNames(s),
    ]),
  );
}

const scopeText = (s: SessionView) =>
  s.scope === 'fleet' ? 'fleet (every instance applies its changes)' : 'local (this instance only)';

function showText(s: SessionView): string {
  const t = s.targeting;
  const list = (l: string[]) => (l.length > 0 ? l.join(', ') : 'all');
  const rows: [string, string][] = [
    ['id', s.id],
    ['name', s.name],
    ...(s.scope ? [['scope', scopeText(s)] as [string, string]] : []),
    ['state', s.abort_reason ? `${s.state} (${s.abort_reason})` : s.state],
    ['affected requests', String(s.affected_requests)],
    ['experiments', experimentNames(s)],
    [
      'targeting',
      `agents ${list(t.agent_ids)}; tools ${list(t.tool_names)}; tenants ${list(t.tenant_ids)}; ${t.percentage * 100}%`,
    ],
    [
      'safety',
      Object.entries(s.safety)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ],
    ['duration', s.duration_s === null ? 'until stopped' : `${s.duration_s} s`],
    ['created', when(s.created_at)],
    ['started', when(s.started_at)],
    ['ended', when(s.ended_at)],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(19)}${v}\n`).join('');
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      ...adminOption,
      ...jsonOption,
      file: { type: 'string', short: 'f' },
      help: { type: 'boolean', short: 'h' },
    },
    2,
  );
  if (values.help) {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  const [verb = 'list', id] = positionals;
  const takesId = actions.has(verb) || verb === 'show' || verb === 'delete';
  if (!takesId && verb !== 'list' && verb !== 'create')
    throw new UsageError(`unknown sessions command "${verb}"`);
  if (takesId && id === undefined) throw new UsageError(`sessions ${verb} needs a session ID`);
  if (!takesId && id !== undefined) throw new UsageError(`unexpected argument "${id}"`);
  if (values.file !== undefined && verb !== 'create')
    throw new UsageError('-f/--file is for sessions create');
  if (verb === 'create' && values.file === undefined) throw new UsageError('sessions create needs -f FILE');
  const json = wantsJson(values, io);
  const client = AdminClient.from(values.admin as string | undefined, io.env);
  const path = `api/v1/chaos/sessions/${encodeURIComponent(id ?? '')}`;
  if (verb === 'list') {
    const { sessions } = await client.request<{ sessions: SessionView[] }>('GET', 'api/v1/chaos/sessions');
    if (json) printJson(io, sessions);
    else io.stdout.write(listTable(sessions));
    return 0;
  }
  let session: SessionView;
  if (verb === 'show') session = await client.request('GET', path);
  else if (verb === 'delete') session = await client.request('DELETE', path);
  else if (verb === 'create')
    session = await client.request('POST', 'api/v1/chaos/sessions', readBody(values.file as string));
  else session = await client.request('POST', `${path}/${verb}`);
  if (json) printJson(io, session);
  else if (verb === 'show') io.stdout.write(showText(session));
  else {
    const done = verb === 'delete' ? 'deleted' : `is ${session.state}`;
    const where = session.scope === 'fleet' ? ' on every instance of the fleet' : '';
    io.stdout.write(`session ${session.name} (${session.id}) ${done}${where}\n`);
  }
  return 0;
}

export const command: Command = {
  help,
  run: (argv, io) => guarded('sessions', help, io, () => run(argv, io)),
};
