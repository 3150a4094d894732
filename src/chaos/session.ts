import { setMaxListeners } from 'node:events';
import type { Logger } from '../observe/logger.js';
import type { SessionInput, SessionState, SessionView } from './control.js';
import { CompiledExperiment, type ExperimentOwner } from './experiment.js';
import { hash32 } from './rng.js';

/** Who ended a session early: the label of `faultgate_session_aborts_total`. */
export type StopCause = 'operator' | 'max_affected' | 'cascade' | 'blast_radius' | 'duration';

/** What a session reports to the outside: metrics and logs, wired by the engine. */
export interface SessionHooks {
  logger: Logger;
  active(name: string, on: boolean): void;
  /** A safety rule aborted the session (`faultgate_safety_aborts_total`). */
  safetyAbort(name: string, reason: string): void;
  /** The session ended for `cause` (not a plain stop). */
  ended(session: Session, state: 'aborted' | 'completed', cause: StopCause): void;
  /** The set of running experiments changed. */
  changed(): void;
}

/** What a reload did to a session's experiments, by name. */
/** Injection budget held locally; never waits: no token, no injection. */
export interface InjectionLease {
  /** A request may get a fault from the session (a token is held). */
  admit(): boolean;
  /** A request got one: a token is spent. */
  consumed(): void;
  /** Fetch tokens ahead (in the background), e.g. as the session starts. */
  refill(): void;
}

/** Fleet mode: a blast-radius lock shared by every instance; never waits. */
export interface RadiusLock {
  /** The request's agent / tenant / trace may get faults (it holds, or it is, the lock). */
  admit(value: string): boolean;
}

export interface ExperimentDiff {
  added: string[];
  removed: string[];
  changed: string[];
  kept: string[];
}

const sameDefinition = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * One chaos session (SPEC section 7): its experiments, targeting and safety rules, and its
 * lifecycle created -> running -> stopped | aborted | completed. Aborting fires `signal`, which
 * ends the faults in flight that came from this session (hangs released, delays cut short).
 */
export class Session implements ExperimentOwner {
  state: SessionState = 'created';
  abortReason: string | null = null;
  affected = 0;
  /** Replaced by `reconfigure` (a reload of session `default`); unchanged experiments are kept. */
  experiments: CompiledExperiment[];
  readonly createdAt = Date.now();
  startedAt: number | null = null;
  endedAt: number | null = null;
  private readonly controller = new AbortController();
  private realFailures = 0;
  private lockedAgent: string | undefined;
  private lockedTenant: string | undefined;
  private lockedTrace: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly agentIds: ReadonlySet<string> | undefined;
  private readonly toolNames: ReadonlySet<string> | undefined;
  private readonly tenantIds: ReadonlySet<string> | undefined;
  private readonly cohortSeed: number;

  constructor(
    readonly id: string,
    public input: SessionInput,
    private readonly hooks: SessionHooks,
  ) {
    this.experiments = input.experiments.map((e) => new CompiledExperiment(e, this));
    const set = (ids: string[]) => (ids.length > 0 && !ids.includes('*') ? new Set(ids) : undefined);
    this.agentIds = set(input.targeting.agent_ids);
    this.toolNames = set(input.targeting.tool_names);
    this.tenantIds = set(input.targeting.tenant_ids);
    this.cohortSeed = hash32(id);
    // Every request with a fault from this session listens for its abort while in flight.
    setMaxListeners(0, this.controller.signal);
  }

  get name(): string {
    return this.input.name;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get needsTrace(): boolean {
    return this.input.safety.max_blast_radius === 'single_trace';
  }

  /** The trace a single_trace session locked to (for the view and the logs). */
  get trace(): string | undefined {
    return this.lockedTrace;
  }

  /** A fleet session while Redis is unreachable: no chaos without shared safety (SPEC 10). */
  suspended = false;
  /** Fleet mode: `max_affected_requests` counted across the fleet (tokens leased from Redis). */
  lease: InjectionLease | undefined;
  /** Fleet mode: `single_agent` / `single_tenant` / `single_trace` locked fleet-wide. */
  radius: RadiusLock | undefined;

  get running(): boolean {
    return this.state === 'running';
  }

  /** Session-level targeting and the blast radius lock; experiments target within this. */
  admits(agent: string, tenant: string, tool: string, trace?: string): boolean {
    if (this.suspended || (this.lease && !this.lease.admit())) return false;
    if (this.toolNames && !this.toolNames.has(tool)) return false;
    if (this.agentIds && !this.agentIds.has(agent)) return false;
    if (this.tenantIds && !this.tenantIds.has(tenant)) return false;
    if (this.lockedAgent !== undefined && agent !== this.lockedAgent) return false;
    if (this.lockedTenant !== undefined && tenant !== this.lockedTenant) return false;
    // single_trace: a request without a trace id cannot be told apart from another run.
    if (
      this.needsTrace &&
      (trace === undefined || (this.lockedTrace !== undefined && trace !== this.lockedTrace))
    ) {
      return false;
    }
    const pct = this.input.targeting.percentage;
    if (pct < 1 && hash32(`${agent}\n${tenant}`, this.cohortSeed) / 4294967296 >= pct) return false;
    return this.radius === undefined || this.radius.admit(this.radiusValue(agent, tenant, trace));
  }

  /** What a fleet-wide lock holds for this request: its agent, tenant or trace id. */
  private radiusValue(agent: string, tenant: string, trace?: string): string {
    const radius = this.input.safety.max_blast_radius;
    return radius === 'single_agent' ? agent : radius === 'single_tenant' ? tenant : (trace ?? '');
  }

  start(now = Date.now()): void {
    this.state = 'running';
    this.startedAt = now;
    this.hooks.active(this.name, true);
    this.hooks.changed();
    const d = this.input.duration_s;
    if (d !== null) {
      this.timer = setTimeout(() => this.end('completed', undefined, 'duration'), d * 1000);
      this.timer.unref();
    }
  }

  /**
   * A reload of the config behind this session: an experiment whose definition did not change
   * keeps its compiled instance (token buckets, budget and degrading counters); a changed or new
   * one starts fresh. The affected count and blast-radius lock stay.
   */
  reconfigure(input: SessionInput): ExperimentDiff {
    const old = new Map(this.experiments.map((e) => [e.name, e]));
    const diff: ExperimentDiff = { added: [], removed: [], changed: [], kept: [] };
    this.experiments = input.experiments.map((def) => {
      const prev = old.get(def.name);
      old.delete(def.name);
      if (prev && sameDefinition(prev.definition, def)) {
        diff.kept.push(def.name);
        return prev;
      }
      (prev ? diff.changed : diff.added).push(def.name);
      return new CompiledExperiment(def, this);
    });
    diff.removed.push(...old.keys());
    this.input = input;
    if (this.running) this.hooks.changed();
    return diff;
  }

  /** Stops new faults; `aborted` also ends the faults in flight. */
  end(state: 'stopped' | 'aborted' | 'completed', reason?: string, cause?: StopCause): void {
    if (this.state !== 'running' && this.state !== 'created') return;
    const wasRunning = this.state === 'running';
    this.state = state;
    this.endedAt = Date.now();
    clearTimeout(this.timer);
    if (state === 'aborted') {
      this.abortReason = reason ?? 'aborted';
      this.controller.abort();
    }
    if (wasRunning) {
      this.hooks.active(this.name, false);
      this.hooks.changed();
    }
    if (state === 'aborted') this.hooks.ended(this, state, cause ?? 'operator');
    else if (state === 'completed' && cause) this.hooks.ended(this, state, cause);
  }

  /** The fleet's `max_affected_requests` budget is spent (this instance's lease says so). */
  budgetSpent(): void {
    this.trip('max_affected_requests', 'max_affected');
  }

  /** Real upstream failures counted across the fleet went over `cascade_threshold`. */
  fleetCascade(): void {
    const { safety } = this.input;
    if (safety.auto_abort_on_cascade) this.trip('cascade', 'cascade');
  }

  /** A safety rule tripped: abort, log and count it. */
  private trip(reason: string, cause: StopCause): void {
    if (!this.running) return;
    this.hooks.logger.warn(
      { session: this.name, id: this.id, reason, affected: this.affected },
      'safety abort',
    );
    this.hooks.safetyAbort(this.name, reason);
    this.end('aborted', reason, cause);
  }

  /** One request got a fault from this session (counted once per request). */
  injected(agent: string, tenant: string, trace?: string): void {
    this.affected++;
    const { safety } = this.input;
    if (safety.max_blast_radius === 'single_trace') this.lockedTrace ??= trace;
    if (safety.max_blast_radius === 'single_agent') this.lockedAgent ??= agent;
    if (safety.max_blast_radius === 'single_tenant') this.lockedTenant ??= tenant;
    if (safety.max_blast_radius === 'single_request') {
      this.end('completed', undefined, 'blast_radius');
      return;
    }
    if (this.lease) this.lease.consumed();
    else if (safety.max_affected_requests > 0 && this.affected >= safety.max_affected_requests) {
      this.trip('max_affected_requests', 'max_affected');
    }
  }

  /** A real (not injected) upstream failure while the session runs. */
  upstreamFailure(): void {
    if (!this.running) return;
    this.realFailures++;
    const { safety } = this.input;
    if (safety.auto_abort_on_cascade && this.realFailures > safety.cascade_threshold)
      this.trip('cascade', 'cascade');
  }

  view(): SessionView {
    return {
      id: this.id,
      name: this.name,
      state: this.state,
      abort_reason: this.abortReason,
      affected_requests: this.affected,
      experiments: this.input.experiments,
      targeting: this.input.targeting,
      safety: this.input.safety,
      duration_s: this.input.duration_s,
      created_at: iso(this.createdAt)!,
      started_at: iso(this.startedAt),
      ended_at: iso(this.endedAt),
    };
  }
}
