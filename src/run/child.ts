/**
 * Runs `faultgate run`'s command: stdio inherited untouched, signals forwarded, and its end
 * turned into an exit code the way shells do (a signal N gives 128 + N, a missing command 127).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Signals a user or a CI runner sends to stop or poke the command; SIGHUP too, as the command's. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

export interface ChildEnd {
  /** The exit code faultgate run passes on (0 only when the command exited 0). */
  code: number;
  /** Why, for the message on stderr when it is not a plain exit. */
  reason?: string;
}

export function runChild(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildEnd> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => {
      // A terminal's Ctrl-C reaches the whole process group, the command included; forwarding
      // covers `kill <faultgate pid>` and CI runners that signal only the top process.
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const s of FORWARDED_SIGNALS) process.on(s, forward);
    const done = (end: ChildEnd) => {
      for (const s of FORWARDED_SIGNALS) process.off(s, forward);
      resolve(end);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ENOENT' ? 127 : 126;
      done({
        code,
        reason: `cannot run "${cmd}": ${err.code === 'ENOENT' ? 'command not found' : err.message}`,
      });
    });
    child.once('exit', (code, signal) => {
      if (signal)
        done({ code: 128 + (constants.signals[signal] ?? 0), reason: `the command was killed by ${signal}` });
      else done({ code: code ?? 1 });
    });
  });
}
