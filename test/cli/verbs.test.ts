/**
 * The admin verbs (`sessions`, `level`, `abort-all`, `reload`) and per-command help, as users
 * run them: `node dist/src/cli.js` (`npm test` builds first) against a real faultgate process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { startUpstream } from '../helpers/index.js';
import { type FaultgateProcess, spawnFaultgate } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `jobs` four at a time: enough to overlap process start-up, not enough to starve a loaded machine. */
async function inBatches<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += 4)
    out.push(...(await Promise.all(jobs.slice(i, i + 4).map((j) => j()))));
  return out;
}

/** The CLI with a clean FAULTGATE_* environment; stdout is a pipe (so JSON unless forced). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FAULTGATE_')));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...clean, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const yaml = (level: number) => `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
admin: { listen: "127.0.0.1:0", token: s3cret }
chaos: { level: ${level} }
experiments:
  - { name: slow, type: latency, config: { pattern: fixed, min_ms: 1, max_ms: 1 } }
log: { level: info }
`;

describe('admin verbs against a running faultgate', { timeout: 120_000 }, () => {
  let fg: FaultgateProcess;
  let env: NodeJS.ProcessEnv;
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-verbs-'));

  // A fresh process per test (stopped when the test finishes): no test sees another's sessions.
  beforeEach(async () => {
    fg = await spawnFaultgate(yaml(1));
    env = { FAULTGATE_ADMIN_URL: fg.adminUrl, FAULTGATE_ADMIN_TOKEN: 's3cret' };
  });

  it('sessions: create -f, list, show, start, stop, abort, delete (JSON when piped)', async () => {
    const body = join(dir, 'session.yaml');
    writeFileSync(
      body,
      'name: cli-made\nexperiments:\n  - { name: boom, type: error, config: { status: 503 } }\ntargeting: { agent_ids: [planner] }\n',
    );
    const created = await cli(['sessions', 'create', '-f', body], env);
    expect(created.code, created.stderr).toBe(0);
    const session = JSON.parse(created.stdout) as { id: string; name: string; state: string };
    expect(session).toMatchObject({ name: 'cli-made', state: 'created' });

    const list = await cli(['sessions'], env);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name).sort()).toEqual([
      'cli-made',
      'default',
    ]);
    const show = await cli(['sessions', 'show', session.id], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: session.id, targeting: { agent_ids: ['planner'] } });

    for (const [verb, state] of [
      ['start', 'running'],
      ['stop', 'stopped'],
    ] as const) {
      const r = await cli(['sessions', verb, session.id], env);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ state });
    }
    // A transition that makes no sense: the API's 409, exit 1, the reason on stderr.
    const again = await cli(['sessions', 'abort', session.id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('409: FAULTGATE_ERR_CONFLICT: cannot abort a session that is stopped');
    const gone = await cli(['sessions', 'delete', session.id], env);
    expect(gone.code).toBe(0);
    const missing = await cli(['sessions', 'show', session.id], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404: FAULTGATE_ERR_NOT_FOUND');
  });

  it('sessions create with an invalid body prints every problem with its path', async () => {
    const body = join(dir, 'bad.json');
    writeFileSync(
      body,
      JSON.stringify({ name: 'x', experiments: [{ name: 'e', type: 'latency', config: { min_ms: -1 } }] }),
    );
    const r = await cli(['sessions', 'create', '-f', body], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('400: FAULTGATE_ERR_BAD_REQUEST');
    expect(r.stderr).toContain('experiments[0].config.min_ms');
  });

  it('tables and sentences on a terminal (FAULTGATE_FORCE_TTY=1), JSON with --json', async () => {
    const tty = { ...env, FAULTGATE_FORCE_TTY: '1' };
    const list = await cli(['sessions', 'list'], tty);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID +NAME +STATE +AFFECTED +STARTED +EXPERIMENTS$/);
    expect(list.stdout).toMatch(/\n\S+ +default +running +0 +\S+ \S+ +slow:latency\n/);
    const forced = await cli(['sessions', 'list', '--json'], tty);
    expect(Array.isArray(JSON.parse(forced.stdout))).toBe(true);
    const id = (JSON.parse(forced.stdout) as { id: string }[])[0]!.id;
    const show = await cli(['sessions', 'show', id], tty);
    expect(show.stdout).toMatch(/^id: +\S+\nname: +default\nstate: +running\n/);
    expect(show.stdout).toContain('experiments:       slow:latency\n');
    const lvl = await cli(['level'], tty);
    expect(lvl.stdout).toBe('chaos level 1\n');
  });

  it('level reads and sets; abort-all aborts default; bad values are usage errors', async () => {
    expect(JSON.parse((await cli(['level'], env)).stdout)).toMatchObject({ level: 1 });
    const set = await cli(['level', '0.25'], env);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ level: 0.25 });
    expect(JSON.parse((await cli(['level'], env)).stdout)).toMatchObject({ level: 0.25 });
    const bad = await cli(['level', 'lots'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('level "lots" is not a number from 0 to 10');

    const aborted = await cli(['abort-all', '--reason', 'incident-42'], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    const names = (JSON.parse(aborted.stdout) as { aborted: { name: string; abort_reason: string }[] })
      .aborted;
    expect(names).toContainEqual(expect.objectContaining({ name: 'default', abort_reason: 'incident-42' }));
    const none = await cli(['abort-all'], { ...env, FAULTGATE_FORCE_TTY: '1' });
    expect(none.stdout).toBe('no session was running\n');
    const status = await cli(['level'], { ...env, FAULTGATE_FORCE_TTY: '1' });
    expect(status.stdout).toContain('chaos is aborted (incident-42)');
    const resumed = await cli(['resume'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: { name: 'default', state: 'running' } });
    expect(JSON.parse((await cli(['level'], env)).stdout)).toMatchObject({ aborted: false });
  });

  it('reload: ok after a valid edit, exit 1 with the problems after an invalid one', async () => {
    writeFileSync(fg.file, yaml(1));
    const ok = await cli(['reload'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ result: 'ok' });
    writeFileSync(fg.file, `${yaml(1)}bogus: 1\n`);
    const bad = await cli(['reload'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('FAULTGATE_ERR_CONFIG');
    expect(bad.stderr).toContain('bogus  unknown key');
    writeFileSync(fg.file, yaml(1));
  });

  it('a wrong token is exit 2 and says which variable to set', async () => {
    const r = await cli(['level'], { ...env, FAULTGATE_ADMIN_TOKEN: 'nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('401: FAULTGATE_ERR_UNAUTHORIZED');
    expect(r.stderr).toContain('FAULTGATE_ADMIN_TOKEN');
  });

  it('--admin wins over FAULTGATE_ADMIN_URL', async () => {
    const r = await cli(['level', '--admin', fg.adminUrl], {
      ...env,
      FAULTGATE_ADMIN_URL: 'http://127.0.0.1:2',
    });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('admin verbs without a faultgate', { timeout: 120_000 }, () => {
  it('a URL that is not a faultgate admin API says so', async () => {
    const other = await startUpstream((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    for (const args of [['sessions'], ['level'], ['abort-all'], ['reload'], ['report']]) {
      const r = await cli([...args, '--admin', other.url]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`that is not a faultgate admin API (HTTP 404 from ${other.url}/api/v1/`);
    }
  });

  it('an unreachable admin API is exit 2 with a hint', async () => {
    const r = await cli(['sessions', '--admin', 'http://127.0.0.1:2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach the faultgate admin API at http://127.0.0.1:2 (ECONNREFUSED)');
  });
});

describe('per-command help and argument errors', { timeout: 120_000 }, () => {
  const all = ['start', 'validate', 'report', 'sessions', 'level', 'abort-all', 'reload'];

  it('every command has its own --help with its options and exit codes', async () => {
    const runs = all.flatMap((command) =>
      [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ].map((args) => async () => ({ command, r: await cli(args) })),
    );
    for (const { command, r } of await inBatches(runs)) {
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: faultgate ${command}`));
      expect(r.stdout, command).toContain('Exit codes:');
      expect(r.stdout, command).toContain('-h, --help');
    }
    const global = await cli(['--help']);
    for (const command of all) expect(global.stdout).toContain(`  ${command} `);
  });

  it('unknown options and stray arguments are errors that name them', async () => {
    const cases: [string[], string][] = [
      [['level', '--colour'], "Unknown option '--colour'"],
      [['reload', 'now'], 'unexpected argument "now"'],
      [['abort-all', 'x', 'y'], 'unexpected arguments "x" "y"'],
      [['sessions', 'show', 'a', 'b'], 'unexpected argument "b"'],
      [['sessions', 'frobnicate'], 'unknown sessions command "frobnicate"'],
      [['sessions', 'list', 'x'], 'unexpected argument "x"'],
      [['sessions', 'create'], 'sessions create needs -f FILE'],
      [['validate', 'a.yaml', 'b.yaml'], 'unexpected argument "b.yaml"'],
      [['start', 'extra'], 'unexpected argument "extra"'],
      [['frobnicate'], 'unknown command "frobnicate"'],
    ];
    const runs = await inBatches(
      cases.map(([args, message]) => async () => ({ args, message, r: await cli(args) })),
    );
    for (const { args, message, r } of runs) {
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('validate takes the file as a positional argument; --version prints the package version', async () => {
    const r = await cli(['validate', join(ROOT, 'proxy.example.yaml')]);
    expect(r).toMatchObject({ code: 0, stdout: `${join(ROOT, 'proxy.example.yaml')}: ok\n` });
    const { version } = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } })).default;
    expect((await cli(['--version'])).stdout).toBe(`faultgate ${version}\n`);
  });
});
