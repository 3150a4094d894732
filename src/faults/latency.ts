import { z } from 'zod';
import { Transform } from 'node:stream';
import { nonNegInt, probability } from './kit/common.js';
import { BoundedMap } from './kit/rate-limit-bucket.js';
import type { Fault, FaultContext, Rng } from './types.js';
import { defineFault } from './define.js';

const latencyPatterns = ['fixed', 'uniform', 'exponential', 'spike', 'degrading', 'jitter'] as const;
const latencyProfiles = ['good', 'moderate', 'poor', 'degrading', 'spiky'] as const;

const latencySchema = z
  .strictObject({
    pattern: z.enum(latencyPatterns).default('uniform'),
    min_ms: nonNegInt.optional(),
    max_ms: nonNegInt.optional(),
    spike_probability: probability.default(0.1),
    spike_multiplier: z.number().min(1).default(10),
    degrade_factor: z.number().min(1).default(1.2),
    jitter_pct: z.number().min(0).max(1).default(0.1),
    profile: z.enum(latencyProfiles).optional(),
    phase: z.enum(['request', 'first_byte', 'chunk']).default('request'),
  })
  .refine((c) => c.profile !== undefined || c.min_ms !== undefined, {
    message: 'latency needs min_ms (and usually max_ms) or a profile',
  })
  .refine((c) => c.min_ms === undefined || c.max_ms === undefined || c.min_ms <= c.max_ms, {
    message: 'min_ms must be <= max_ms',
    path: ['max_ms'],
  });
type LatencyConfig = z.infer<typeof latencySchema>;

type Pattern = (typeof latencyPatterns)[number];
interface Model {
  pattern: Pattern;
  min: number;
  max: number;
  spikeProbability: number;
  spikeMultiplier: number;
  degradeFactor: number;
  jitterPct: number;
}

/** The five presets, as agent-chaos libraries define them. */
const profiles: Record<
  (typeof latencyProfiles)[number],
  Omit<Model, 'spikeProbability' | 'spikeMultiplier' | 'degradeFactor' | 'jitterPct'> & Partial<Model>
> = {
  good: { pattern: 'jitter', min: 10, max: 50, jitterPct: 0.1 },
  moderate: { pattern: 'uniform', min: 50, max: 200 },
  poor: { pattern: 'uniform', min: 200, max: 2000 },
  degrading: { pattern: 'degrading', min: 50, max: 500, degradeFactor: 1.2 },
  spiky: { pattern: 'spike', min: 20, max: 100, spikeMultiplier: 20, spikeProbability: 0.15 },
};

/** A degrading delay stops growing here, so a long run cannot schedule hour-long timers. */
const MAX_DEGRADED_MS = 120_000;

function latencyModel(c: LatencyConfig): Model {
  const base: Model = {
    pattern: c.pattern,
    min: c.min_ms ?? 0,
    max: c.max_ms ?? c.min_ms ?? 0,
    spikeProbability: c.spike_probability,
    spikeMultiplier: c.spike_multiplier,
    degradeFactor: c.degrade_factor,
    jitterPct: c.jitter_pct,
  };
  return c.profile ? { ...base, ...profiles[c.profile] } : base;
}

/** One delay in ms; `calls` counts earlier draws (for degrading). */
function drawDelay(m: Model, rng: Rng, calls: number): number {
  const uniform = () => rng.between(m.min, m.max);
  switch (m.pattern) {
    case 'fixed':
      return m.min;
    case 'uniform':
      return uniform();
    case 'exponential': {
      const mean = (m.min + m.max) / 2;
      return Math.min(m.max, Math.max(m.min, -Math.log(1 - rng.next()) * mean));
    }
    case 'spike': {
      const d = uniform();
      return rng.next() < m.spikeProbability ? d * m.spikeMultiplier : d;
    }
    case 'degrading':
      return Math.min(MAX_DEGRADED_MS, uniform() * m.degradeFactor ** calls);
    case 'jitter': {
      const mid = (m.min + m.max) / 2;
      return Math.max(0, mid * (1 + (rng.next() * 2 - 1) * m.jitterPct));
    }
  }
}

/**
 * The delay source of one fault instance. A degrading delay grows with the calls of the same
 * (agent, tool), the key decisions use, so one agent's traffic does not degrade another's.
 */
function delays(model: Model): (ctx: FaultContext) => number {
  if (model.pattern !== 'degrading') return (ctx) => Math.round(drawDelay(model, ctx.rng, 0));
  const calls = new BoundedMap<{ n: number }>();
  return (ctx) => {
    const counter = calls.get(`${ctx.agent}\n${ctx.tool}`, () => ({ n: 0 }));
    return Math.round(drawDelay(model, ctx.rng, counter.n++));
  };
}

/** Delays each chunk of the body by a fresh draw; the wait ends early when the request does. */
function chunkDelay(ctx: FaultContext, next: () => number): Transform {
  return new Transform({
    transform(chunk, _enc, cb) {
      ctx.sleep(next()).then(() => cb(null, chunk));
    },
  });
}

function createLatency(config: LatencyConfig): Fault {
  const next = delays(latencyModel(config));
  switch (config.phase) {
    case 'request':
      return {
        async request(ctx) {
          await ctx.sleep(next(ctx));
          return { kind: 'continue' };
        },
      };
    case 'first_byte':
      return {
        async response(ctx) {
          await ctx.sleep(next(ctx));
          return {};
        },
      };
    case 'chunk':
      return {
        response: (ctx) => ({ stream: chunkDelay(ctx, () => next(ctx)), keepsLength: true }),
      };
  }
}

export const latencyFault = defineFault({ type: 'latency', schema: latencySchema, create: createLatency });
