import { randomInt } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { CompiledExperiment } from './experiment.js';
import { OverrideCache } from './override.js';
import { hash32, SeededRng } from './rng.js';

/** The experiments that fired for one request, in config order, and the request's random stream. */
export interface Decision {
  rng: SeededRng;
  fired: CompiledExperiment[];
}

const MAX_SEQUENCE_KEYS = 100_000;

/**
 * Decides, per request, which experiments fire. Each request gets its own random stream seeded
 * from (seed, agent, tool, n) where n counts that agent's requests to that tool, so the k-th call
 * of an agent to a tool meets the same faults whatever other agents do concurrently.
 */
export class ChaosEngine {
  level: number;
  readonly seed: number;
  private readonly experiments: CompiledExperiment[];
  private readonly startedAt: number;
  private readonly sequence = new Map<string, number>();
  /** Compiled `x-faultgate-fault` overrides of this instance. */
  readonly overrides = new OverrideCache();
  /** Experiments that can target each tool name (tool names come from the config: bounded). */
  private readonly byTool = new Map<string, readonly CompiledExperiment[]>();

  /** `now` is injectable so schedule windows can be tested without waiting. */
  constructor(
    config: Config,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.startedAt = now();
    this.level = config.chaos.level;
    this.seed = config.chaos.seed ?? randomInt(0, 2 ** 31);
    this.experiments = config.experiments.map((e) => new CompiledExperiment(e));
  }

  get active(): boolean {
    return this.level > 0 && this.experiments.length > 0;
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
      list = this.experiments.filter((e) => e.targetsTool(tool));
      if (this.byTool.size < 10_000) this.byTool.set(tool, list);
    }
    return list;
  }

  decide(agent: string, tenant: string, tool: string): Decision | undefined {
    if (!this.active) return undefined;
    const candidates = this.forTool(tool);
    if (candidates.length === 0) return undefined;
    const elapsed = this.now() - this.startedAt;
    let rng: SeededRng | undefined;
    let fired: CompiledExperiment[] | undefined;
    for (const exp of candidates) {
      if (
        !exp.activeAt(elapsed) ||
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
    return fired && rng ? { rng, fired } : undefined;
  }
}
