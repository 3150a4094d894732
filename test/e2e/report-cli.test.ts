/**
 * `faultgate report` as users run it (`node dist/src/cli.js`; `npm test` builds first), against
 * a small local server that answers /api/v1/report with a fixed Report.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/report.js';
import { renderReport } from '../../src/observe/report/index.js';
import { startUpstream } from '../helpers/index.js';
import { sampleReport } from '../observe/report-fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a clean FAULTGATE_* environment (and no NO_COLOR), stdout a pipe. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FAULTGATE_') && k !== 'NO_COLOR'),
  );
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, 'report', ...args],
      { cwd: ROOT, env: { ...clean, ...env }, timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const noStack = (run: Run) => expect(run.stderr).not.toMatch(/\n\s+at /);

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A stand-in admin API: the fixed report at /api/v1/report, `status` errors when asked. */
async function fakeAdmin(status = 200): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const body = JSON.stringify(sampleReport());
  const { url } = await startUpstream((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (status !== 200 || !req.url?.startsWith('/api/v1/report')) {
      res.writeHead(status === 200 ? 404 : status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'FAULTGATE_ERR_UNAUTHORIZED', message: 'missing or wrong bearer token' },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return { url, seen };
}

describe('faultgate report (whole process)', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
    dir = mkdtempSync(join(tmpdir(), 'faultgate-report-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the markdown report to --out', async () => {
    const admin = await fakeAdmin();
    const out = join(dir, 'report.md');
    const run = await cli(['--admin', admin.url, '--format', 'markdown', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`markdown report written to ${out}`);
    expect(readFileSync(out, 'utf8')).toBe(renderReport(sampleReport(), 'markdown'));
    expect(admin.seen).toHaveLength(1);
    expect(admin.seen[0]!.url).toBe('/api/v1/report?format=json');
    expect(admin.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('prints json to stdout and sends the admin token from FAULTGATE_ADMIN_TOKEN', async () => {
    const admin = await fakeAdmin();
    const run = await cli(['--format', 'json'], {
      FAULTGATE_ADMIN_URL: admin.url,
      FAULTGATE_ADMIN_TOKEN: 's3cret',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(sampleReport());
    expect(admin.seen[0]!.headers.authorization).toBe('Bearer s3cret');
  });

  it('defaults to the terminal format, without colour when stdout is not a TTY', async () => {
    const admin = await fakeAdmin();
    const run = await cli(['--admin', `${admin.url}/`]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(renderReport(sampleReport(), 'terminal', { color: false }));
    expect(run.stdout).not.toContain('\x1b[');
  });

  it('takes the format and the output path from FAULTGATE_FORMAT and FAULTGATE_OUT', async () => {
    const admin = await fakeAdmin();
    const out = join(dir, 'report.html');
    const run = await cli(['--admin', admin.url], { FAULTGATE_FORMAT: 'html', FAULTGATE_OUT: out });
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('keeps a path prefix of the admin URL', async () => {
    const admin = await fakeAdmin();
    const run = await cli(['--admin', `${admin.url}/faultgate`, '--format', 'json']);
    expect(run.code).toBe(2);
    expect(admin.seen[0]!.url).toBe('/faultgate/api/v1/report?format=json');
    expect(run.stderr).toContain('answered 404');
  });

  it('exits 2 with a clear message when the proxy is unreachable', async () => {
    // Port 2 (compressnet) is privileged, unused, and not on fetch's list of blocked ports.
    const run = await cli(['--admin', 'http://127.0.0.1:2', '--format', 'json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('cannot reach the faultgate admin API at http://127.0.0.1:2 (ECONNREFUSED)');
    expect(run.stderr).toContain('is the proxy running?');
    noStack(run);
  });

  it('exits 2 and names the error when the admin API answers one', async () => {
    const admin = await fakeAdmin(401);
    const run = await cli(['--admin', admin.url]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('answered 401: FAULTGATE_ERR_UNAUTHORIZED: missing or wrong bearer token');
    expect(run.stderr).toContain('FAULTGATE_ADMIN_TOKEN');
    noStack(run);
  });

  it('exits 2 on a bad format, a bad URL or an unknown option, before any request', async () => {
    const admin = await fakeAdmin();
    const bad = await cli(['--admin', admin.url, '--format', 'pdf']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown format "pdf": use one of json, markdown, html, terminal');
    const url = await cli(['--admin', 'ftp://example.com']);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('must be an http:// or https:// URL');
    const opt = await cli(['--colour']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("Unknown option '--colour'");
    expect(admin.seen).toHaveLength(0);
    for (const run of [bad, url, opt]) noStack(run);
  });

  it('exits 2 when --out cannot be written', async () => {
    const admin = await fakeAdmin();
    const run = await cli(['--admin', admin.url, '--out', join(dir, 'missing', 'dir', 'r.md')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot write');
    noStack(run);
  });

  it('colours the terminal format when stdout is a TTY, unless NO_COLOR is set (in process)', async () => {
    const admin = await fakeAdmin();
    const run = async (env: NodeJS.ProcessEnv) => {
      const stdout = Object.assign(new PassThrough(), { isTTY: true });
      const stderr = new PassThrough();
      let text = '';
      stdout.on('data', (d) => (text += d));
      const code = await reportCommand(['--admin', admin.url], { env, stdout, stderr });
      return { code, text };
    };
    const tty = await run({});
    expect(tty.code).toBe(0);
    expect(tty.text).toBe(renderReport(sampleReport(), 'terminal', { color: true }));
    expect(tty.text).toContain('\x1b[32mB\x1b[39m');
    const noColor = await run({ NO_COLOR: '1' });
    expect(noColor.text).not.toContain('\x1b[');
  });

  it('--min-grade and --max-unrecovered: exit 1 with the reason on stderr when missed', async () => {
    const admin = await fakeAdmin();
    const { grade, unrecovered } = sampleReport().overall;
    expect([grade, unrecovered]).toEqual(['D', 1]);
    const above = await cli(['--admin', admin.url, '--format', 'json', '--min-grade', 'C']);
    expect(above.code).toBe(1);
    expect(JSON.parse(above.stdout)).toEqual(sampleReport()); // the report is printed all the same
    expect(above.stderr).toContain('gate failed: grade D (score 61.9) is below --min-grade C');
    const met = await cli(['--admin', admin.url, '--min-grade', 'd', '--max-unrecovered', '1']);
    expect(met.code, met.stderr).toBe(0);
    const budget = await cli(['--admin', admin.url], { FAULTGATE_MAX_UNRECOVERED: '0' });
    expect(budget.code).toBe(1);
    expect(budget.stderr).toContain('1 unrecovered incident(s), more than --max-unrecovered 0');
    const env = await cli(['--admin', admin.url], { FAULTGATE_MIN_GRADE: 'B' });
    expect(env.code).toBe(1);
    for (const run of [above, budget, env]) noStack(run);
  });

  it('exits 2 on a grade or a count that is not one, and --help states the exit codes', async () => {
    const admin = await fakeAdmin();
    const grade = await cli(['--admin', admin.url, '--min-grade', 'E']);
    expect(grade.code).toBe(2);
    expect(grade.stderr).toContain('--min-grade "E" is not a grade: use one of A, B, C, D, F');
    const count = await cli(['--admin', admin.url, '--max-unrecovered', '-1']);
    expect(count.code).toBe(2);
    expect(admin.seen).toHaveLength(0);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes: 0 .*1 the gate failed/s);
  });
});
