#!/usr/bin/env node
/**
 * `faultgate <command>`: dispatch only. Each command lives in src/cli/<command>.ts with its own
 * options and `--help`; adding one is one line in `commands`.
 */
import { readFileSync } from 'node:fs';
import { type CliIo, type Command, EXIT_USAGE } from './cli/command.js';

interface Entry {
  /** One line for the global usage. */
  summary: string;
  /** Loaded on use, so `faultgate level` does not load the whole proxy. */
  load: () => Promise<{ command: Command }>;
}

const commands: Record<string, Entry> = {
  start: {
    summary: 'run the proxy (default config: the bundled proxy.example.yaml)',
    load: () => import('./cli/start.js'),
  },
  validate: {
    summary: 'check a config: every problem as FILE:LINE:COL  path  message',
    load: () => import('./cli/validate.js'),
  },
  report: {
    summary: 'fetch the report from a running proxy (terminal, json, markdown or html)',
    load: () => import('./cli/report.js'),
  },
  sessions: {
    summary: 'list, show, create, start, stop, abort or delete chaos sessions',
    load: () => import('./cli/sessions.js'),
  },
  level: { summary: 'print or set the chaos level (0 = off)', load: () => import('./cli/level.js') },
  'abort-all': {
    summary: 'abort every running chaos session, default included',
    load: () => import('./cli/abort-all.js'),
  },
  resume: {
    summary: 're-arm chaos after abort-all (re-creates and starts the default session)',
    load: () => import('./cli/resume.js'),
  },
  reload: {
    summary: 'make a running faultgate re-read its config file',
    load: () => import('./cli/reload.js'),
  },
  run: {
    summary: 'run a command (your agent, its tests) through faultgate, then the report and a CI gate',
    load: () => import('./cli/run.js'),
  },
  demo: {
    summary: 'mock LLM and tools, a naive and a resilient agent under chaos, the report (20 s)',
    load: () => import('./cli/demo.js'),
  },
  ca: {
    summary: 'ca init: create the TLS interception CA and print how to trust it',
    load: () => import('./cli/ca.js'),
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `faultgate: HTTP chaos proxy for AI agents

Usage: faultgate <command> [options]     (no command: start)

Commands:
${lines.join('\n')}

faultgate <command> --help shows a command's options and exit codes; faultgate --version.
Every option has an environment form: -c/--config is FAULTGATE_CONFIG, --admin FAULTGATE_ADMIN_URL.
Exit codes: 0 ok, 1 SLO gate failed or the admin API refused, 2 usage or configuration error.`;
}

async function main(io: CliIo): Promise<number | undefined> {
  const argv = process.argv.slice(2);
  const first = argv[0];
  if (first === '--version' || first === '-v' || first === 'version') {
    if (argv.length > 1) return fail(io, `unexpected argument "${argv[1]}"`);
    io.stdout.write(`faultgate ${version()}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = argv[1];
    if (topic === undefined) io.stdout.write(`${usage()}\n`);
    else if (Object.hasOwn(commands, topic))
      io.stdout.write(`${(await commands[topic]!.load()).command.help}\n`);
    else return fail(io, `unknown command "${topic}"`);
    return 0;
  }
  // Bare `faultgate` and `faultgate -c FILE` start the proxy.
  if (first === undefined || first.startsWith('-'))
    return (await commands.start!.load()).command.run(argv, io);
  if (Object.hasOwn(commands, first)) return (await commands[first]!.load()).command.run(argv.slice(1), io);
  return fail(io, `unknown command "${first}"\n\n${usage()}`);
}

function fail(io: CliIo, message: string): number {
  io.stderr.write(`faultgate: ${message}\n`);
  return EXIT_USAGE;
}

main(process).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: Error) => {
    // A bug, not a user error: say so in one line, with the stack only on request.
    process.stderr.write(`faultgate: internal error: ${err.message}\n`);
    if (process.env.FAULTGATE_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = EXIT_USAGE;
  },
);
