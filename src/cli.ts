#!/usr/bin/env node
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem, loadConfigFile } from './config/load.js';
import { reportCommand } from './cli/report.js';
import { demoCommand } from './cli/demo.js';
import { runCommand } from './cli/run.js';
import { Faultgate } from './faultgate.js';

const EXIT_USAGE = 2;
const bundledConfig = fileURLToPath(new URL('../../proxy.example.yaml', import.meta.url));

const usage = `faultgate: HTTP chaos proxy for AI agents

Usage:
  faultgate [start] [-c FILE]     run the proxy (default config: the bundled proxy.example.yaml)
  faultgate validate -c FILE      check a config: every problem as FILE:LINE:COL  path  message
  faultgate report [--admin URL] [--format terminal|json|markdown|html] [--out PATH]
                                  fetch the report from a running proxy (report --help for more)
  faultgate run -c FILE [--agent NAME] [--report PATH] [--min-grade G] -- CMD [ARGS]
                                  run CMD through faultgate, then report (run --help for more)
  faultgate demo [--duration S] [--seed N]
                                  mock LLM and tools, two sample agents under chaos, the report
  faultgate --version

Every option has an environment form: -c/--config is FAULTGATE_CONFIG.
Exit codes: 0 ok, 1 SLO gate failed, 2 usage or configuration error.`;

/** Commands of SPEC section 1 that later releases add; named so the error says so, not "unknown". */
const planned = new Set(['ca']);

function fail(message: string): never {
  process.stderr.write(`faultgate: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: process.env.FAULTGATE_CONFIG },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${usage}`);
  }
}

function load(file: string) {
  const result = loadConfigFile(file);
  if (!result.ok) {
    for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`faultgate: ${result.problems.length} problem(s) in ${file}\n`);
    process.exit(EXIT_USAGE);
  }
  return result.config;
}

async function start(file: string): Promise<void> {
  const config = load(file);
  let fg: Faultgate;
  try {
    fg = await Faultgate.start(config, { configPath: file, watch: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    fail(e.code === 'EADDRINUSE' ? `cannot listen: address in use (${e.message})` : e.message);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the drain.
      fg.logger.warn({ signal }, 'second signal: exiting without draining');
      fg.logger.flush?.();
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    stopping = true;
    fg.logger.info({ signal }, 'shutting down: draining in-flight requests');
    fg.close().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`faultgate: shutdown failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The reload logs its own outcome (applied, or rejected with every problem).
  process.on('SIGHUP', () => void fg.reload('signal'));
}

async function main(): Promise<void> {
  // `report` has options of its own, parsed by its module.
  if (process.argv[2] === 'report') {
    process.exitCode = await reportCommand(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'demo') {
    process.exitCode = await demoCommand(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'run') {
    process.exitCode = await runCommand(process.argv.slice(3));
    return;
  }
  const { values, positionals } = parse(process.argv.slice(2));
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  if (values.version) {
    process.stdout.write('faultgate 0.1.0\n');
    return;
  }
  const command = positionals[0] ?? 'start';
  switch (command) {
    case 'start':
      await start(values.config ?? bundledConfig);
      return;
    case 'validate': {
      if (!values.config) fail(`validate needs -c FILE\n\n${usage}`);
      load(values.config);
      process.stdout.write(`${values.config}: ok\n`);
      return;
    }
    default:
      if (planned.has(command)) fail(`"${command}" is not implemented in this version yet`);
      fail(`unknown command "${command}"\n\n${usage}`);
  }
}

main().catch((err: Error) => fail(err.message));
