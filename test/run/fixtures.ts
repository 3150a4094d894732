/** Runs the built CLI (`npm test` builds first) as a real process and collects what it wrote. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Resolves when `text` has appeared on stdout. */
  stdoutHas(text: string): Promise<void>;
  done: Promise<CliRun>;
}

/** The environment without FAULTGATE_* and proxy variables of the machine running the tests. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const drop = /^(FAULTGATE_|NO_COLOR$|NODE_OPTIONS$|NODE_USE_ENV_PROXY$)|_proxy$/i;
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.test(k))), ...extra };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\``);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout!.on('data', (d) => {
    stdout += d;
    for (const w of waiters) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliRun>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await done;
    }
  });
  const stdoutHas = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.includes(text)) return resolve();
      waiters.push({ text, resolve });
      void done.then((r) => reject(new Error(`exited (${r.code}) before "${text}": ${r.stderr}`)));
    });
  return { child, stdoutHas, done };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startCli(args, env).done;
}

/** A temp directory removed when the test finishes; `file(name, text)` writes into it. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'faultgate-run-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return { dir, file };
}
