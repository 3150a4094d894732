// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the config syntax under test is ${VAR}, written in plain strings on purpose.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, yaml } from './fixtures.js';

/** `npm test` builds first (pretest), so the CLI runs as users run it: `node dist/src/cli.js`. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a clean FAULTGATE_* environment, so the caller's shell cannot change the outcome. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FAULTGATE_')));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, env: { ...clean, ...env }, timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const noStack = (run: Run) => expect(run.stderr).not.toMatch(/\n\s+at /);

describe('faultgate validate (whole process)', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
    dir = mkdtempSync(join(tmpdir(), 'faultgate-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('lists every problem as FILE:LINE:COL  path  message and exits 2', async () => {
    const file = write(
      'bad.yaml',
      yaml(
        'version: 1',
        'listeners:',
        '  - name: main',
        '    listen: nowhere', // 4
        '    bogus: 1', // 5
        'experiments:',
        '  - name: e',
        '    type: latency',
        '    config: { min_ms: 5, max_ms: 1 }', // 9
      ),
    );
    const run = await cli(['validate', '-c', file]);
    expect(run.code).toBe(2);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `${file}:4:13  listeners[0].listen  must be HOST:PORT with a port 0..65535 (e.g. 127.0.0.1:8080, [::1]:8080)`,
      `${file}:5:5  listeners[0].bogus  unknown key`,
      `${file}:9:34  experiments[0].config.max_ms  min_ms must be <= max_ms`,
      `faultgate: 3 problem(s) in ${file}`,
    ]);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^\S+:\d+:\d+ {2}\S+ {2}\S.*$/);
    expect(run.stdout).toBe('');
    noStack(run);
  });

  it('exits 0 for a good file', async () => {
    const file = write('good.yaml', yaml(...BASE, 'admin: { token: ${TOKEN:-} }'));
    const run = await cli(['validate', '-c', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(`${file}: ok\n`);
  });

  it('reports an unset variable and exits 2', async () => {
    const file = write('env.yaml', yaml(...BASE, 'admin:', '  token: ${FAULTGATE_TEST_TOKEN}'));
    const bad = await cli(['validate', '-c', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file}:6:10  (env)  environment variable FAULTGATE_TEST_TOKEN is not set`);
    const good = await cli(['validate', '-c', file], { FAULTGATE_TEST_TOKEN: 's3cret' });
    expect(good.code).toBe(0);
  });

  it('accepts the bundled proxy.example.yaml', async () => {
    const run = await cli(['validate', '-c', 'proxy.example.yaml']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
  });

  it('takes the file from FAULTGATE_CONFIG', async () => {
    const file = write('from-env.yaml', yaml(...BASE));
    const run = await cli(['validate'], { FAULTGATE_CONFIG: file });
    expect(run.code).toBe(0);
  });

  it('exits 2 for a missing file', async () => {
    const file = join(dir, 'absent.yaml');
    const run = await cli(['validate', '-c', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:0:0  (file)  file not found`);
    noStack(run);
  });

  it('exits 2 with usage for validate without a file, an unknown command or an unknown option', async () => {
    for (const args of [['validate'], ['frobnicate'], ['validate', '--nope']]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('Usage:');
      expect(run.stdout).toBe('');
      noStack(run);
    }
    expect((await cli(['frobnicate'])).stderr).toContain('unknown command "frobnicate"');
  });
});
