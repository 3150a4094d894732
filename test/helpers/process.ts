import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export interface FaultgateProcess {
  child: ChildProcess;
  /** The config file it was started with (rewrite it to test reloads). */
  file: string;
  url: string;
  adminUrl: string;
  /** stdout lines parsed as JSON (pino). */
  logs: Record<string, unknown>[];
  stderr: () => string;
}

/** The built CLI (`npm test` builds first), started as a real process on a temp config. */
export async function spawnFaultgate(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<FaultgateProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['dist/src/cli.js', 'start', '-c', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
  const logs: Record<string, unknown>[] = [];
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  let buf = '';
  let url = '';
  let adminUrl = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`faultgate did not start: ${err}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`faultgate exited with ${code}: ${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        logs.push(line);
        if (line.msg === 'listening' && !url) url = `http://${line.address as string}`;
        if (line.msg === 'admin listening') {
          adminUrl = `http://${line.address as string}`;
          clearTimeout(timer);
          resolve();
        }
        nl = buf.indexOf('\n');
      }
    });
  });
  return { child, file, url, adminUrl, logs, stderr: () => err };
}

/** Peak resident set size of a process, in bytes (Linux). */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
