import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, SUT_CPU, startChild } from './harness.js';
import type { Running, Target, Upstream } from './targets.js';

/**
 * The peer columns of `bench:compare`: nginx (one process) and haproxy (one thread) in front
 * of the same upstream, on the same core as faultgate. Debian's binaries are looked up where
 * the packages put them (or `NGINX_BIN` / `HAPROXY_BIN`); without one, its column is skipped.
 */

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
/** The configs live beside the sources (bench/), not in dist/. */
const configDir = here('../../bench/');

function binary(env: string, paths: string[]): string | undefined {
  const fromEnv = process.env[env];
  if (fromEnv) return fromEnv;
  return paths.find((p) => existsSync(p));
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/@([A-Z]+)@/g, (all, key: string) => values[key] ?? all);
}

function peer(
  name: string,
  description: string,
  bin: string | undefined,
  config: string,
  args: (file: string) => string[],
): Target {
  return {
    name,
    description,
    async start(upstream: Upstream): Promise<Running> {
      if (!bin) throw new Error(`${name} is not installed`);
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), `faultgate-bench-${name}-`));
      mkdirSync(join(dir, 'logs'));
      const file = join(dir, config);
      const text = readFileSync(join(configDir, config), 'utf8');
      writeFileSync(file, fill(text, { PORT: String(port), UPSTREAM: new URL(upstream.url).host, DIR: dir }));
      const { child } = await startChild(name, bin, args(file), { cpu: SUT_CPU, ready: null });
      const url = `http://127.0.0.1:${port}`;
      const stop = async (): Promise<void> => {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      };
      try {
        const { waitReady } = await import('./targets.js');
        await waitReady(`${url}/bytes/1`, 10_000);
      } catch (err) {
        await stop();
        throw new Error(`${(err as Error).message}\n${child.output.join('\n')}`);
      }
      return { url, pid: child.pid, stop };
    },
  };
}

export const nginx = peer(
  'nginx',
  'nginx, one process, proxy_buffering off, upstream keep-alive (bench/nginx.conf)',
  binary('NGINX_BIN', ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']),
  'nginx.conf',
  (file) => ['-p', join(file, '..'), '-c', file],
);

export const haproxy = peer(
  'haproxy',
  'haproxy, one thread, http-no-delay, http-reuse always (bench/haproxy.cfg)',
  binary('HAPROXY_BIN', ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']),
  'haproxy.cfg',
  (file) => ['-db', '-f', file],
);
