import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, freePort, LOAD_CPU, startChild } from './harness.js';

export interface BenchRedis {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/** A throwaway redis-server (no persistence) on a free port, on the load generator's core. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-bench-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  try {
    const { child } = await startChild('redis', process.env.REDIS_SERVER ?? 'redis-server', args, {
      cpu: LOAD_CPU,
      ready: /Ready to accept connections/,
    });
    return {
      url: `redis://127.0.0.1:${port}/0`,
      child,
      async stop() {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The `fleet` block a bench faultgate joins `redis` with. */
export const fleetYaml = (redisUrl: string, instance: string, name = 'bench'): string =>
  `fleet: { redis: "${redisUrl}", name: ${name}, instance: ${instance} }\n`;
