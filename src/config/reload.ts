/**
 * Hot reload support: what a new config changes for the running instance (which listeners keep
 * their sockets, which need a restart) and a watcher that notices the config file change.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../observe/logger.js';
import type { Config, ListenerConfig } from './schema.js';

/** How the listeners of a running config map onto a new one. */
export interface ListenerPlan {
  /** Per new listener, in config order: the index of the running listener it keeps, or undefined to bind. */
  keep: (number | undefined)[];
  /** Running listeners that the new config no longer has: closed gracefully. */
  removed: number[];
}

/**
 * A listener keeps its server and sockets while its `listen` address stays: first matched by
 * name and address, then (a rename) by address alone, unless the port is 0 (any free port: two
 * such listeners share nothing but the spelling). Anything else is bound anew.
 */
export function planListeners(
  running: readonly ListenerConfig[],
  next: readonly ListenerConfig[],
): ListenerPlan {
  const taken = new Set<number>();
  const pick = (match: (l: ListenerConfig) => boolean): number | undefined => {
    const i = running.findIndex((l, idx) => !taken.has(idx) && match(l));
    if (i === -1) return undefined;
    taken.add(i);
    return i;
  };
  const keep: (number | undefined)[] = next.map((n) =>
    pick((l) => l.name === n.name && l.listen === n.listen),
  );
  for (const [i, n] of next.entries()) {
    if (!n.listen.endsWith(':0')) keep[i] ??= pick((l) => l.listen === n.listen);
  }
  const removed = running.map((_, i) => i).filter((i) => !taken.has(i));
  return { keep, removed };
}

/** Settings a reload cannot apply to a running process, as `path: old -> new` for the log. */
export function restartNeeded(running: Config, next: Config): string[] {
  const out: string[] = [];
  const check = (path: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`${path}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
  };
  check('admin.listen', running.admin.listen, next.admin.listen);
  check('limits.max_label_values', running.limits.max_label_values, next.limits.max_label_values);
  // Node fixes the header size limit when a server is created; new listeners get the new one.
  check('limits.max_header_bytes', running.limits.max_header_bytes, next.limits.max_header_bytes);
  check('metrics.detail', running.metrics.detail, next.metrics.detail);
  check('tracking.enabled', running.tracking.enabled, next.tracking.enabled);
  // The URL may hold a password: say that it changed, not to what.
  if (JSON.stringify(running.fleet) !== JSON.stringify(next.fleet)) out.push('fleet: changed');
  return out;
}

export function upstreamChanged(running: Config, next: Config): boolean {
  return JSON.stringify(running.upstream) !== JSON.stringify(next.upstream);
}

export interface ConfigWatcher {
  close(): void;
}

export interface WatchOptions {
  /** Editors write a file in several steps (truncate, write, rename): one reload after they settle. */
  debounceMs?: number;
  logger?: Logger;
}

/** The file's content hash, or `missing`: a watch event that changed nothing triggers no reload. */
function fingerprint(file: string): string {
  try {
    return createHash('sha1').update(readFileSync(file)).digest('base64');
  } catch {
    return 'missing';
  }
}

/**
 * Calls `onChange` (debounced) when the config file's content changes. The directory is watched,
 * not the file: editors and `kubectl` replace a file by renaming a new one over it (Kubernetes
 * swaps a `..data` symlink), which a watch on the old inode would never report. A file that is
 * missing for a moment is reported once, so the reload that follows is rejected and logged.
 */
export function watchConfig(file: string, onChange: () => void, options: WatchOptions = {}): ConfigWatcher {
  const name = basename(file);
  const debounceMs = options.debounceMs ?? 200;
  let last = fingerprint(file);
  let timer: NodeJS.Timeout | undefined;
  const settle = () => {
    timer = undefined;
    const now = fingerprint(file);
    if (now === last) return;
    last = now;
    onChange();
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(settle, debounceMs);
      timer.unref();
    });
  } catch (err) {
    options.logger?.warn(
      { file, err: (err as Error).message },
      'cannot watch the config file: reload with SIGHUP or POST /api/v1/reload',
    );
    return { close() {} };
  }
  watcher.on('error', (err) => {
    options.logger?.warn({ file, err: err.message }, 'config file watch failed; SIGHUP still reloads');
    watcher.close();
  });
  watcher.unref();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
