/**
 * The published package as a user gets it: `npm pack`, install the tarball into an empty
 * folder, then run the CLI through npx, import the library as ESM and type-check a consumer
 * against the shipped declarations. Dependencies come from the npm cache (`npm ci` filled it).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'faultgate-pack-'));
const app = join(work, 'app');
let packed: { files: { path: string }[] };

/** npm, quiet: only errors reach stderr. */
async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

beforeAll(async () => {
  const out = await npm(['pack', '--json', '--pack-destination', work], root);
  packed = (JSON.parse(out) as (typeof packed)[])[0]!;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"app","private":true,"type":"module"}\n');
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  try {
    await npm(['install', '--offline', tarball], app);
  } catch {
    // A cache filled by `npm ci` holds the tarballs but maybe not the registry metadata.
    await npm(['install', '--prefer-offline', tarball], app);
  }
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('ships only what runs: compiled code, declarations, LICENSE, README, the example config', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('LICENSE');
    expect(paths).toContain('README.md');
    expect(paths).toContain('proxy.example.yaml');
    expect(paths).toContain('dist/src/index.js');
    expect(paths).toContain('dist/src/index.d.ts');
    expect(paths).toContain('dist/src/cli.js');
    // No source maps pointing at sources that are not shipped, no tests, no benchmarks.
    expect(paths.filter((p) => p.endsWith('.map') || p.startsWith('src/') || p.startsWith('test/'))).toEqual(
      [],
    );
    expect(paths.filter((p) => p.startsWith('dist/bench'))).toEqual([]);
  });

  it('npx faultgate --version runs the installed CLI', async () => {
    const { stdout } = await run('npx', ['--offline', 'faultgate', '--version'], { cwd: app });
    const { version } = (await import(join(root, 'package.json'), { with: { type: 'json' } })).default;
    expect(stdout.trim()).toBe(`faultgate ${version}`);
  });

  it('an ESM import of startFaultgate starts and closes an instance', async () => {
    writeFileSync(
      join(app, 'use.mjs'),
      `import { startFaultgate, FaultgateValidationError } from 'faultgate';
const fg = await startFaultgate({ config: { chaos: { level: 0.5 } } });
const out = { proxy: fg.proxyUrl, level: fg.level(), agents: fg.report().agents.length };
await fg.close();
const err = await startFaultgate({ config: { chaos: { levle: 1 } } }).catch((e) => e);
out.invalid = err instanceof FaultgateValidationError ? err.problems.map((p) => p.path) : String(err);
console.log(JSON.stringify(out));
`,
    );
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: app });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.proxy).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toMatchObject({ level: 0.5, agents: 0, invalid: ['chaos.levle'] });
  });

  it('the declarations type-check a consumer (and reject an unknown config key)', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { type Report, startFaultgate } from 'faultgate';
const fg = await startFaultgate({ config: { chaos: { level: 0.5 } } });
const report: Report = fg.report();
const requests: number = report.overall.requests;
// @ts-expect-error: the declarations know every config key
await startFaultgate({ config: { chaos: { levle: 1 } } });
console.log(requests);
`,
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--target', 'es2023', '--module', 'nodenext'];
    args.push('--skipLibCheck', '--typeRoots', join(root, 'node_modules/@types'), '--types', 'node');
    await expect(run(process.execPath, [tsc, ...args, 'consumer.ts'], { cwd: app })).resolves.toBeDefined();
  });
});
