import { Registry } from 'prom-client';
import type { ExchangeOutcome } from '../../src/observe/outcome.js';
import type { ToolRow } from '../../src/observe/report-model.js';
import { RecoveryTracker, type RecoveryTrackerOptions } from '../../src/observe/tracker.js';

export const slos = { availability: 0.99, latency_p99_ms: 2000, mttr_s: 30, recovery_window_s: 60 };

export interface Send {
  agent?: string;
  tool?: string;
  /** startedAt (epoch ms). */
  at: number;
  /** endedAt − startedAt; default 100 ms. */
  dur?: number;
  ok?: boolean;
  status?: number;
  method?: string;
  path?: string;
  body?: string;
  injected?: string[];
  broken?: boolean;
  retryAfterMs?: number;
}

export function outcome(s: Send): ExchangeOutcome {
  const ok = s.ok ?? true;
  return {
    agent: s.agent ?? 'planner',
    tenant: 'acme',
    tool: s.tool ?? 'search',
    method: s.method ?? 'POST',
    path: s.path ?? '/search',
    bodyKey: s.body ?? 'len:10',
    startedAt: s.at,
    endedAt: s.at + (s.dur ?? 100),
    status: s.status ?? (ok ? 200 : 503),
    success: ok,
    ...(ok ? {} : { failure: 'status' as const }),
    injected: s.injected ?? [],
    brokenByFault: s.broken ?? false,
    ...(s.retryAfterMs !== undefined ? { retryAfterMs: s.retryAfterMs } : {}),
  };
}

/** A tracker on a fake clock: `clock.now` is what `now()` answers; no timers run. */
export function setup(opts: Partial<RecoveryTrackerOptions> = {}) {
  const clock = { now: 0 };
  const registry = new Registry();
  const tracker = new RecoveryTracker({
    slos,
    tools: [],
    maxLabelValues: 200,
    registry,
    now: () => clock.now,
    ...opts,
  });
  const send = (...list: Send[]): void => {
    for (const s of list) tracker.observe(outcome(s));
  };
  const report = () => tracker.report({ seed: 7, configHash: 'abc' });
  const row = (agent = 'planner', tool = 'search'): ToolRow => {
    const a = report().agents.find((r) => r.agent === agent);
    const t = a?.tools.find((r) => r.tool === tool);
    if (!t) throw new Error(`no row for ${agent}/${tool}`);
    return t;
  };
  return { clock, registry, tracker, send, report, row };
}

/** Prometheus text exposition -> `name{a="x",b="y"}` (labels sorted) -> value. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort();
    samples.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!, Number(m[3]));
  }
  return samples;
}

/** The sample for `name` with exactly these labels (order free). */
export function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}) {
  const parts = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort();
  return samples.get(parts.length ? `${name}{${parts.join(',')}}` : name);
}
