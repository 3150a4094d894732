import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'faultgate-fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dist = (p: string) => pathToFileURL(resolve('dist/src', p)).href;

// A resolve hook that reports every import of the Redis client, then a probe that starts and
// stops one faultgate (from dist/, built by `npm test`) with the YAML tail given in argv[2].
writeFileSync(
  join(dir, 'hook.mjs'),
  `export async function resolve(s, c, next) {
  if (s === 'redis' || s.startsWith('@redis/')) process.stderr.write('LOADED ' + s + '\\n');
  return next(s, c);
}\n`,
);
writeFileSync(
  join(dir, 'probe.mjs'),
  `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});
const { parseConfig } = await import(${JSON.stringify(dist('config/load.js'))});
const { Faultgate } = await import(${JSON.stringify(dist('faultgate.js'))});
const yaml = 'version: 1\\nlisteners:\\n  - { name: m, listen: "127.0.0.1:0", upstream: "http://127.0.0.1:9" }\\nadmin: { listen: "127.0.0.1:0" }\\nlog: { level: silent }\\n' + (process.argv[2] ?? '');
const r = parseConfig('x.yaml', yaml, {}, process.cwd());
if (!r.ok) throw new Error(JSON.stringify(r.problems));
const fg = await Faultgate.start(r.config);
await new Promise((res) => setTimeout(res, Number(process.argv[3] ?? 0)));
await fg.close(100);
process.stderr.write('CLOSED\\n');
`,
);

function probe(tail = '', holdMs = 0): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(dir, 'probe.mjs'), tail, String(holdMs)], (err, _out, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe('fleet mode: lifecycle of the Redis link', () => {
  it('a standalone config never loads the Redis client', async () => {
    expect(await probe()).toEqual({ code: 0, stderr: 'CLOSED\n' });
  });

  it('starts and shuts down cleanly with Redis unreachable', async () => {
    const r = await probe('fleet: { redis: "redis://127.0.0.1:1/0" }', 200);
    expect(r).toEqual({ code: 0, stderr: 'LOADED redis\nCLOSED\n' });
  });

  it('shuts down with a hung Redis (no answer to QUIT): the process exits', async () => {
    const redis = await startRedis();
    const exited = probe(`fleet: { redis: "${redis.url}" }`, 500);
    // Hang Redis while the instance is connected; the shutdown must still finish.
    await new Promise((r) => setTimeout(r, 300));
    redis.pause();
    const r = await exited;
    redis.unpause();
    expect(r).toEqual({ code: 0, stderr: 'LOADED redis\nCLOSED\n' });
  });
});
