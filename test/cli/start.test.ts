/**
 * `faultgate start` for people and for machines: the startup screen and human log lines on a
 * terminal (FAULTGATE_FORCE_TTY=1 stands in for a pseudo-terminal), JSON lines otherwise; the
 * bundled example answering its printed curl line; the container health check script.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { spawnFaultgate } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FAULTGATE_')));

const yaml = `version: 1
listeners:
  - { name: edge, listen: "127.0.0.1:0", forward: true, allow_hosts: [127.0.0.1] }
  - { name: api, listen: "127.0.0.1:0", upstream: "http://127.0.0.1:9" }
admin: { listen: "127.0.0.1:0" }
tools: [{ name: search, match: { path: "/search/**" } }]
chaos: { seed: 3 }
experiments:
  - { name: flaky-search, type: error, probability: 0.2, target: { tools: [search] } }
`;

/** Starts the CLI and resolves with its stdout once `until` matches it. */
async function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  until: RegExp,
): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}\n${out}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      if (until.test(out)) resolve();
    });
  });
  return { child, out: () => out };
}

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'faultgate-start-')), 'proxy.yaml');
  writeFileSync(file, text);
  return file;
}

describe('faultgate start', { timeout: 120_000 }, () => {
  it('on a terminal: the startup screen and human log lines', async () => {
    const file = configFile(yaml);
    const { out } = await startCli(['start', '-c', file], { FAULTGATE_FORCE_TTY: '1' }, /Ctrl-C\n/);
    const text = out();
    const edge = /edge {2}(http:\/\/127\.0\.0\.1:\d+) {2}HTTP_PROXY for 127\.0\.0\.1/.exec(text)?.[1];
    const api = /api {3}(http:\/\/127\.0\.0\.1:\d+) {2}reverse proxy to http:\/\/127\.0\.0\.1:9/.exec(
      text,
    )?.[1];
    expect(edge, text).toBeDefined();
    expect(api, text).toBeDefined();
    expect(text).toContain(`HTTP_PROXY=${edge} HTTPS_PROXY=${edge} NODE_USE_ENV_PROXY=1`);
    expect(text).toContain(`base URL ${api} in place of http://127.0.0.1:9`);
    expect(text).toMatch(
      /Chaos: level 1, seed 3; experiments armed.*\n {2}flaky-search {2}error +tools search, probability 0\.2/,
    );
    const admin = /Admin API {2}(http:\/\/127\.0\.0\.1:\d+)\/api\/v1/.exec(text)?.[1];
    expect(text).toContain(`Metrics    ${admin}/metrics`);
    expect(text).toContain(`Stop chaos: faultgate abort-all --admin ${admin}`);
    // Human log lines, not JSON.
    expect(text).toMatch(/^\d\d:\d\d:\d\d INFO {2}listening listener=edge address=127\.0\.0\.1:\d+/m);
    expect(text.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    // The address printed is the one listening.
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
  });

  it('not on a terminal, or with --log-format json: JSON lines only, no screen', async () => {
    const file = configFile(yaml);
    for (const [args, env] of [
      [['start', '-c', file], {}],
      [['start', '-c', file, '--log-format', 'json'], { FAULTGATE_FORCE_TTY: '1' }],
    ] as const) {
      const { child, out } = await startCli([...args], env, /"admin listening"/);
      const lines = out().trimEnd().split('\n');
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: 30, msg: 'admin listening' });
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('an unknown --log-format is a usage error', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'start', '--log-format', 'xml'], { env: clean }, (err, _o, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stderr }),
      ),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown log format "xml": use pretty or json');
  });

  it('the bundled example works out of the box: its printed curl line answers, with a visible fault', async () => {
    const env = {
      FAULTGATE_FORCE_TTY: '1',
      FAULTGATE_LISTEN: '127.0.0.1:0',
      FAULTGATE_ADMIN_LISTEN: '127.0.0.1:0',
    };
    const { out } = await startCli(['start'], env, /Ctrl-C\n/);
    const curl = /try it: (curl -si (http:\/\/\S+))/.exec(out());
    expect(curl, out()).not.toBeNull();
    expect(out()).toContain('(the built-in echo upstream)');
    const answer = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-si', curl![2]!], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer.toLowerCase()).toContain('x-faultgate-injected: echo-marker/patch');
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(body).toMatchObject({
      message: "hello from faultgate's built-in echo upstream",
      path: '/echo/hello',
      faultgate: 'this field was injected by the experiment echo-marker',
    });
  });
});

describe('the container health check (dist/src/cli/healthcheck.js)', { timeout: 120_000 }, () => {
  const check = (env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [join(ROOT, 'dist/src/cli/healthcheck.js')],
        { env: { ...clean, ...env } },
        (err, _o, stderr) => resolve({ code: err ? (err.code as number) : 0, stderr }),
      ),
    );

  it('probes the admin address of FAULTGATE_CONFIG (or FAULTGATE_ADMIN_URL), 1 when nothing answers', async () => {
    const fg = await spawnFaultgate(yaml);
    const port = new URL(fg.adminUrl).port;
    // A config naming the running instance's admin address, as the image's config would.
    const file = configFile(
      yaml.replace('admin: { listen: "127.0.0.1:0" }', `admin: { listen: "0.0.0.0:${port}" }`),
    );
    expect(await check({ FAULTGATE_CONFIG: file })).toEqual({ code: 0, stderr: '' });
    expect(await check({ FAULTGATE_ADMIN_URL: fg.adminUrl })).toEqual({ code: 0, stderr: '' });
    fg.child.kill('SIGTERM');
    await new Promise((r) => fg.child.once('exit', r));
    const down = await check({ FAULTGATE_CONFIG: file });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('faultgate healthcheck:');
  });
});
