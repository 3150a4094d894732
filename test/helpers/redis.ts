import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A real redis-server on 127.0.0.1, no persistence, stopped by PID. */
export interface TestRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung Redis that keeps its sockets open but answers nothing. */
  pause(): void;
  unpause(): void;
  /** Starts again on the same port (after stop), as a restarted Redis would. */
  restart(): Promise<void>;
}

export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

/** redis-server cannot listen on port 0: take a free port from the kernel, then bind it. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function launch(port: number, dir: string): Promise<ChildProcess | undefined> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve(child);
    };
    child.stdout!.on('data', onData);
    // Exits at once when the port was taken in the meantime (EADDRINUSE): the caller retries.
    child.on('exit', () => resolve(undefined));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 10 && !child; attempt++) {
    port = await freePort();
    child = await launch(port, dir);
  }
  if (!child) throw new Error('could not start redis-server');
  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop: async () => {
      if (child) await stopChild(child);
    },
    pause: () => process.kill(child!.pid!, 'SIGSTOP'),
    unpause: () => process.kill(child!.pid!, 'SIGCONT'),
    restart: async () => {
      for (let attempt = 0; attempt < 50; attempt++) {
        child = await launch(port, dir);
        if (child) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`could not restart redis-server on port ${port}`);
    },
  };
  onTestFinished(async () => {
    // A stopped process must be continued to die of SIGKILL promptly everywhere.
    if (child?.exitCode === null && child.signalCode === null) redis.unpause();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return redis;
}
