import type { Experiment } from '../config/schema.js';
import type { Dialect } from '../faults/common.js';
import { faultFactories } from '../faults/registry.js';
import type { Fault } from '../faults/types.js';
import { compileValueGlob, type StringMatcher } from '../identity/glob.js';
import { hash32 } from './rng.js';

function anyOf(globs: readonly string[]): StringMatcher {
  if (globs.includes('*')) return () => true;
  const matchers = globs.map(compileValueGlob);
  if (matchers.length === 1) return matchers[0]!;
  return (value) => {
    for (const m of matchers) if (m(value)) return true;
    return false;
  };
}

/**
 * What an experiment needs from the session that runs it: whether it runs, its targeting, the
 * abort that ends its faults in flight, and the count of requests it affected. Declared here so
 * the experiment does not depend on the session class that creates it.
 */
export interface ExperimentOwner {
  readonly running: boolean;
  /** Aborted when the session is aborted: faults in flight from it end. */
  readonly signal: AbortSignal;
  /** The blast radius is `single_trace`: `admits` needs the request's trace id. */
  readonly needsTrace: boolean;
  /** Session-level targeting (agent, tenant, tool lists, percentage, blast-radius lock). */
  admits(agent: string, tenant: string, tool: string, trace?: string): boolean;
  /** One request got a fault from this session (called once per request). */
  injected(agent: string, tenant: string, trace?: string): void;
}

/** An experiment compiled once per config load (or session creation): matchers, window, fault instance. */
export class CompiledExperiment {
  readonly name: string;
  readonly type: Experiment['type'];
  readonly fault: Fault;
  /** The fault's own `format`, overriding the tool's dialect. */
  readonly dialect: Dialect | undefined;
  private readonly tools: StringMatcher;
  private readonly agents: StringMatcher;
  private readonly tenants: StringMatcher;
  private readonly percentage: number;
  private readonly nameHash: number;
  private readonly probability: number | undefined;
  private readonly afterMs: number;
  private readonly untilMs: number;
  /**
   * Set (in the engine's clock) when a reload added or changed this experiment in a running
   * session: its schedule window counts from then, not from the session's start.
   */
  startedAt: number | undefined;

  /** `session`: the session the experiment belongs to; none for a header override. */
  constructor(
    readonly definition: Experiment,
    readonly session?: ExperimentOwner,
  ) {
    this.name = definition.name;
    this.type = definition.type;
    this.fault = (faultFactories[definition.type] as (c: unknown) => Fault)(definition.config);
    this.dialect = (definition.config as { format?: Dialect }).format;
    this.tools = anyOf(definition.target.tools);
    this.agents = anyOf(definition.target.agents);
    this.tenants = anyOf(definition.target.tenants);
    this.percentage = definition.target.percentage;
    this.nameHash = hash32(definition.name);
    this.probability = definition.probability;
    this.afterMs = (definition.schedule?.after_s ?? 0) * 1000;
    const duration = definition.schedule?.duration_s;
    this.untilMs = duration === undefined ? Number.POSITIVE_INFINITY : this.afterMs + duration * 1000;
  }

  activeAt(elapsedMs: number): boolean {
    return elapsedMs >= this.afterMs && elapsedMs < this.untilMs;
  }

  targetsTool(tool: string): boolean {
    return this.tools(tool);
  }

  /** Agent and tenant only: the engine has already picked the experiments for the tool. */
  targetsPeer(agent: string, tenant: string): boolean {
    return this.agents(agent) && this.tenants(tenant);
  }

  /**
   * `percentage` picks a sticky cohort of (agent, tenant) pairs rather than a share of requests
   * (that is what `probability` is for): the same agents stay in the blast radius all run.
   */
  inCohort(seed: number, agent: string, tenant: string): boolean {
    if (this.percentage >= 1) return true;
    return hash32(`${agent}\n${tenant}`, seed ^ this.nameHash) / 4294967296 < this.percentage;
  }

  /** SPEC: level scales every probability; no probability means 0.1 x level. */
  probabilityAt(level: number): number {
    return Math.min(1, (this.probability ?? 0.1) * level);
  }
}
