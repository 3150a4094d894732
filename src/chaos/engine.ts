import { randomInt } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import type { SessionInput } from './control.js';
import type { CompiledExperiment, ExperimentOwner } from './experiment.js';
import { OverrideCache } from './override.js';
import { hash32, SeededRng } from './rng.js';
import { Session, type SessionHooks } from './session.js';

/** The experiments that fired for one request, in config order, and the request's random stream. */
export interface Decision {
  readonly kind: 'faults';
  readonly rng: SeededRng;
  readonly fired: readonly CompiledExperiment[];
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
  /** `times=` in an override counts per retry key for this long (slos.recovery_window_s). */
  private readonly recoveryWindowMs: number;
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
    this.recoveryWindowMs = config.slos.recovery_window_s * 1000;
    this.seed = config.chaos.seed ?? randomInt(0, 2 ** 31);
    this.hooks = {
      logger: hooks?.logger ?? silent,
      active: hooks?.active ?? (() => {}),
      aborted: hooks?.aborted ?? (() => {}),
      changed: () => this.rebuild(),
    };
    this.startDefault(config);
  }

  private startDefault(config: Config): void {
    const session = new Session('default', defaultInput(config), this.hooks);
    this.sessions.set('default', session);
    this.start(session);
  }

  /** A reload: the `default` session is replaced by the new config's; other sessions keep running. */
  reconfigure(config: Config): void {
    this.level = config.chaos.level;
    if (config.chaos.seed !== undefined && config.chaos.seed !== this.seed) {
      this.seed = config.chaos.seed;
      this.sequence.clear();
    }
    this.sessions.get('default')?.end('stopped');
    this.sessions.delete('default');
    this.startDefault(config);
  }

  create(input: SessionInput): Session {
    const session = new Session(`s${this.nextId++}-${randomInt(0, 2 ** 31).toString(36)}`, input, this.hooks);
    this.sessions.set(session.id, session);
    return session;
  }

  start(session: Session): void {
    this.clockStart.set(session, this.now());
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
    retry: RetryFacts = NO_RETRY_FACTS,
  ): Verdict {
    if (override !== undefined) {
      const header = Array.isArray(override) ? override[0]! : override;
      const parsed = this.overrides.get(header);
      if (!parsed.ok) return { kind: 'refuse', code: 'FAULTGATE_ERR_OVERRIDE', message: parsed.message };
      const rng = this.requestRng(agent, tool);
      // `times=` / `probability=` may hold the override back: then the config's experiments decide.
      const request = { agent, tool, method: retry.method, path: retry.path, bodyKey: retry.bodyKey };
      if (this.overrides.fires(header, parsed, request, rng, this.recoveryWindowMs))
        return { kind: 'faults', rng, fired: [parsed.experiment] };
    }
    return this.draw(agent, tenant, tool) ?? PASS;
  }

  /** The experiments of running sessions that fire for one request, by level, targeting and coin. */
  draw(agent: string, tenant: string, tool: string): Decision | undefined {
    if (!this.active) return undefined;
    const candidates = this.forTool(tool);
    if (candidates.length === 0) return undefined;
    const now = this.now();
    let rng: SeededRng | undefined;
    let fired: CompiledExperiment[] | undefined;
    for (const exp of candidates) {
      const session = exp.session;
      if (
        !session?.running ||
        !exp.activeAt(now - (this.clockStart.get(session) ?? now)) ||
        !session.admits(agent, tenant, tool) ||
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
    return fired && rng ? { kind: 'faults', rng, fired } : undefined;
  }
}

const silent = { warn() {}, info() {}, debug() {}, error() {} } as unknown as Logger;

/** The config's experiments as session `default`, started at boot, with the config's safety. */
function defaultInput(config: Config): SessionInput {
  return {
    name: 'default',
    experiments: [...config.experiments],
    targeting: { agent_ids: [], tool_names: [], tenant_ids: [], percentage: 1 },
    safety: { ...config.safety },
    duration_s: null,
  };
}
