import { z } from 'zod';
import { nonNegInt, probability } from './common.js';

export const latencyPatterns = ['fixed', 'uniform', 'exponential', 'spike', 'degrading', 'jitter'] as const;
export const latencyProfiles = ['good', 'moderate', 'poor', 'degrading', 'spiky'] as const;

export const latencySchema = z
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
export type LatencyConfig = z.infer<typeof latencySchema>;
