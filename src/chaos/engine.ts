import { randomInt } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { SessionInput } from './control.js';
import type { CompiledExperiment, ExperimentOwner } from './experiment.js';
import { OverrideCache } from './override.js';
import { hash32, SeededRng } from './rng.js';
import { type ExperimentDiff, Session, type SessionHooks } from './session.js';
import { type TraceReader, traceReader } from './trace.js';

/** Why chaos is off until an operator re-arms it (SPEC section 7). */
export interface AbortState {
  readonly reason: string;
  /** ISO time of the abort. */
  readonly at: string;
}

/** What a reload did to chaos, for the log line and `POST /api/v1/reload`'s answer. */
export interface ChaosChange {
  experiments: ExperimentDiff;
  /** Runtime state set over the API (or by a safety abort) that the reload left in force. */
  overrides: { level?: number; aborted?: AbortState };
}

/** The experiments that fired for one request, in config order, and the request's random stream. */
export interface Decision {
  readonly kind: 'faults';
  readonly rng: SeededRng;
  readonly fired: readonly CompiledExperiment[];
  /** The request's trace id (`trace.from`), for single_trace sessions and the fault log lines. */
  readonly trace?: string | undefined;
  /** For faults that belong to no session (header overrides): fires on abort-all. */
  readonly signal?: AbortSignal;
}

/**
 * What happens to one request: it passes untouched, it gets faults, or it is refused (a
 * malformed `x-faultgate-fault` header, answered 400 before anything else happens).
 */
export type Verdict =
  | { readonly kind: 'pass' }
  | Decision
  | { readonly kind: 'refuse'; readonly code: 'FAULTGATE_ERR_OVERRIDE'; readonly message: string };

/** Shared by every request that passes: the no-fault path allocates no verdict. */
const PASS: Verdict = Object.freeze({ kind: 'pass' });

/** What makes two requests the same request for `times=` (a retry): method, path, body identity. */
export interface RetryFacts {
  readonly method: string;
  readonly path: string;
  readonly bodyKey: string;
}
const NO_RETRY_FACTS: RetryFacts = Object.freeze({ method: '', path: '', bodyKey: '' });

const MAX_SEQUENCE_KEYS = 100_000;

/**
 * Decides, per request, which experiments fire, across every running session (the config's
 * `default` and those created over the API). Each request gets its own random stream seeded
 * from (seed, agent, tool, n) where n counts that agent's requests to that tool, so the k-th call
 * of an agent to a tool meets the same faults whatever other agents do concurrently.
 */
export class ChaosEngine {
  level: number;
  seed: number;
  /** `chaos.level` of the config last loaded: a reload changes the level only when this changes. */
  private fileLevel: number;
  /** The level was set over the API and still overrides the file's. */
  private levelFromApi = false;
  /** Set by abort-all or an abort of `default`; cleared only by resume or a session start. */
  private abortState: AbortState | undefined;
  /** `chaos.header_overrides: force`: overrides ignore abort and level (test environments). */
  private forceOverrides: boolean;
  /** The config last loaded: `resume` re-creates `default` from it. */
  private config: Config;
  /** Reads a request's trace id (`trace.from`). */
  traceOf: TraceReader;
  /** Fires on abort-all: header-override faults in flight end (they belong to no session). */
  private overrideAbort = new AbortController();
  private readonly sequence = new Map<string, number>();
  /** Compiled `x-faultgate-fault` overrides of this instance. */
  readonly overrides = new OverrideCache();
  readonly sessions = new Map<string, Session>();
  /** Experiments of running sessions, in session then config order. */
  private running: CompiledExperiment[] = [];
  /** Running experiments that can target each tool name (tool names come from the config: bounded). */
  private readonly byTool = new Map<string, readonly CompiledExperiment[]>();
  /** Session start in this engine's clock, for schedule windows. */
  private readonly clockStart = new WeakMap<ExperimentOwner, number>();
  private readonly hooks: SessionHooks;
  private nextId = 1;

  /** `now` is injectable so schedule windows can be tested without waiting. */
  constructor(
    config: Config,
    private readonly now: () => number = performance.now.bind(performance),
    hooks?: Partial<SessionHooks>,
  ) {
    this.level = config.chaos.level;
    this.fileLevel = config.chaos.level;
    this.forceOverrides = config.chaos.header_overrides === 'force';
    this.config = config;
    this.traceOf = traceReader(config.trace.from);
    this.seed = config.chaos.seed ?? randomInt(0, 2 ** 31);
    const ended = hooks?.ended ?? (() => {});
    this.hooks = {
      logger: hooks?.logger ?? silent,
      active: hooks?.active ?? (() => {}),
      safetyAbort: hooks?.safetyAbort ?? (() => {}),
      ended: (session, state, cause) => {
        // An abort of `default` (by an operator or a safety rule) disarms chaos until resume.
        if (state === 'aborted' && this.sessions.get('default') === session) {
          this.disarm(session.abortReason ?? cause);
        }
        ended(session, state, cause);
      },
      changed: () => this.rebuild(),
    };
    this.startDefault(config);
  }

  /** Why chaos is aborted, or undefined while it is armed. */
  get aborted(): AbortState | undefined {
    return this.abortState;
  }

  /** Where the level in force comes from. */
  get levelSource(): 'api' | 'config' {
    return this.levelFromApi ? 'api' : 'config';
  }

  /** `PUT /api/v1/chaos/level`: stays across reloads until the file's level changes. */
  setLevel(level: number): void {
    this.level = level;
    this.levelFromApi = true;
  }

  private disarm(reason: string): void {
    this.abortState ??= { reason, at: new Date().toISOString() };
    this.overrideAbort.abort();
  }

  /** abort-all: every running session is aborted and chaos stays off across reloads. */
  abortAll(reason: string): Session[] {
    const aborted: Session[] = [];
    for (const s of this.sessions.values()) {
      if (!s.running) continue;
      s.end('aborted', reason);
      aborted.push(s);
    }
    this.disarm(reason);
    return aborted;
  }

  /** Re-arms chaos: `default` is re-created from the current config and started. */
  resume(): Session {
    this.rearm();
    const current = this.sessions.get('default');
    if (current?.running) return current;
    current?.end('stopped');
    return this.startDefault(this.config);
  }

  private rearm(): void {
    this.abortState = undefined;
    if (this.overrideAbort.signal.aborted) this.overrideAbort = new AbortController();
  }

  private startDefault(config: Config): Session {
    const session = new Session('default', defaultInput(config), this.hooks);
    this.sessions.set('default', session);
    this.start(session);
    return session;
  }

  /**
   * A reload. A running `default` keeps its experiments whose definition did not change (and
   * their live state); an aborted one stays aborted until resume; a stopped or completed one is
   * re-created. An API level stays unless the file's level changed. API sessions are untouched.
   */
  reconfigure(config: Config): ChaosChange {
    this.config = config;
    this.traceOf = traceReader(config.trace.from);
    this.forceOverrides = config.chaos.header_overrides === 'force';
    if (config.chaos.level !== this.fileLevel || !this.levelFromApi) {
      this.fileLevel = config.chaos.level;
      this.level = config.chaos.level;
      this.levelFromApi = false;
    }
    if (config.chaos.seed !== undefined && config.chaos.seed !== this.seed) {
      this.seed = config.chaos.seed;
      this.sequence.clear();
    }
    const current = this.sessions.get('default');
    let experiments: ExperimentDiff;
    if (current?.running) {
      experiments = current.reconfigure(defaultInput(config));
      // A new or changed experiment starts fresh, its schedule window included.
      const fresh = new Set([...experiments.added, ...experiments.changed]);
      const now = this.now();
      for (const exp of current.experiments) if (fresh.has(exp.name)) exp.startedAt = now;
    } else if (this.abortState || current?.state === 'aborted') {
      // An abort sticks (even once a session start re-armed chaos): only resume re-creates
      // `default`. The diff says what resume would start.
      experiments = diffNames(current?.input.experiments ?? [], config.experiments);
    } else {
      current?.end('stopped');
      experiments = diffNames([], config.experiments);
      this.startDefault(config);
    }
    const overrides: ChaosChange['overrides'] = {};
    if (this.levelFromApi) overrides.level = this.level;
    if (this.abortState) overrides.aborted = this.abortState;
    return { experiments, overrides };
  }

  /** `id` is given by fleet mode, where every instance holds the same session under one id. */
  create(input: SessionInput, id?: string): Session {
    const session = new Session(
      id ?? `s${this.nextId++}-${randomInt(0, 2 ** 31).toString(36)}`,
      input,
      this.hooks,
    );
    this.sessions.set(session.id, session);
    return session;
  }

  /** Starting a session is an explicit re-arm after an abort (its own experiments only). */
  start(session: Session): void {
    this.clockStart.set(session, this.now());
    if (session.id !== 'default') this.rearm();
    session.start();
  }

  private rebuild(): void {
    this.running = [...this.sessions.values()].filter((s) => s.running).flatMap((s) => s.experiments);
    this.byTool.clear();
  }

  get active(): boolean {
    return this.level > 0 && this.running.length > 0;
  }

  /** A real upstream failure: counted by every running session for cascade detection. */
  upstreamFailure(): void {
    for (const s of this.sessions.values()) s.upstreamFailure();
  }

  /** A fresh random stream for the next request of (agent, tool). */
  requestRng(agent: string, tool: string): SeededRng {
    const key = `${agent}\n${tool}`;
    const n = this.sequence.get(key) ?? 0;
    if (this.sequence.size >= MAX_SEQUENCE_KEYS && n === 0) this.sequence.clear();
    this.sequence.set(key, n + 1);
    return new SeededRng(hash32(`${key}\n${n}`, this.seed));
  }

  private forTool(tool: string): readonly CompiledExperiment[] {
    let list = this.byTool.get(tool);
    if (!list) {
      list = this.running.filter((e) => e.targetsTool(tool));
      if (this.byTool.size < 10_000) this.byTool.set(tool, list);
    }
    return list;
  }

  /**
   * The verdict for one request. `override` is its `x-faultgate-fault` header when the request's
   * config allows overrides: a valid one fires exactly that fault, whatever sessions and level say.
   */
  decide(
    agent: string,
    tenant: string,
    tool: string,
    override: string | string[] | undefined,
    headers?: IncomingHttpHeaders,
    retry: RetryFacts = NO_RETRY_FACTS,
  ): Verdict {
    if (override !== undefined) {
      // Level 0 and an abort mean no injection from any source, unless overrides are forced.
      if (!this.forceOverrides && (this.abortState || this.level <= 0)) {
        return this.draw(agent, tenant, tool, headers) ?? PASS;
      }
      const header = Array.isArray(override) ? override[0]! : override;
      const parsed = this.overrides.get(header);
      if (!parsed.ok) return { kind: 'refuse', code: 'FAULTGATE_ERR_OVERRIDE', message: parsed.message };
      const rng = this.requestRng(agent, tool);
      // `times=` / `probability=` may hold the override back: then the config's experiments decide.
      const request = { agent, tool, method: retry.method, path: retry.path, bodyKey: retry.bodyKey };
      const windowMs = this.config.slos.recovery_window_s * 1000;
      if (this.overrides.fires(header, parsed, request, rng, windowMs)) {
        return {
          kind: 'faults',
          rng,
          fired: [parsed.experiment],
          trace: headers && this.traceOf(headers),
          // Forced overrides ignore the abort, so it does not end them in flight either.
          ...(this.forceOverrides ? {} : { signal: this.overrideAbort.signal }),
        };
      }
    }
    return this.draw(agent, tenant, tool, headers) ?? PASS;
  }

  /** The experiments of running sessions that fire for one request, by level, targeting and coin. */
  draw(agent: string, tenant: string, tool: string, headers?: IncomingHttpHeaders): Decision | undefined {
    if (!this.active) return undefined;
    const candidates = this.forTool(tool);
    if (candidates.length === 0) return undefined;
    const now = this.now();
    let rng: SeededRng | undefined;
    let fired: CompiledExperiment[] | undefined;
    // Read once, and only when a single_trace session needs it or faults fire.
    let trace: string | undefined | null = null;
    for (const exp of candidates) {
      const session = exp.session;
      if (session?.needsTrace && trace === null) trace = headers ? this.traceOf(headers) : undefined;
      if (
        !session?.running ||
        !exp.activeAt(now - (exp.startedAt ?? this.clockStart.get(session) ?? now)) ||
        !session.admits(agent, tenant, tool, trace ?? undefined) ||
        !exp.targetsPeer(agent, tenant) ||
        !exp.inCohort(this.seed, agent, tenant)
      ) {
        continue;
      }
      rng ??= this.requestRng(agent, tool);
      if (exp.fault.selfDecides || rng.next() < exp.probabilityAt(this.level)) {
        fired ??= [];
        fired.push(exp);
      }
    }
    if (!fired || !rng) return undefined;
    if (trace === null) trace = headers ? this.traceOf(headers) : undefined;
    return { kind: 'faults', rng, fired, trace };
  }
}

/** A reload's diff when the experiments were not compiled (default not running). */
function diffNames(before: readonly { name: string }[], after: readonly { name: string }[]): ExperimentDiff {
  const old = new Map(before.map((e) => [e.name, JSON.stringify(e)]));
  const diff: ExperimentDiff = { added: [], removed: [], changed: [], kept: [] };
  for (const e of after) {
    const prev = old.get(e.name);
    old.delete(e.name);
    if (prev === undefined) diff.added.push(e.name);
    else (prev === JSON.stringify(e) ? diff.kept : diff.changed).push(e.name);
  }
  diff.removed.push(...old.keys());
  return diff;
}

const silent = { warn() {}, info() {}, debug() {}, error() {} } as unknown as Logger;

/** The config's experiments as session `default`, started at boot, with the config's safety. */
export function defaultInput(config: Config): SessionInput {
  return {
    name: 'default',
    experiments: [...config.experiments],
    targeting: { agent_ids: [], tool_names: [], tenant_ids: [], percentage: 1 },
    safety: { ...config.safety },
    duration_s: null,
  };
}
