import type { z } from 'zod';
import type { Fault } from './types.js';
import { authSchema, createAuth } from './auth.js';
import { createBandwidth, bandwidthSchema } from './bandwidth.js';
import { createBudget, budgetSchema } from './budget.js';
import { closeSchema, createClose } from './close.js';
import { createContextCorruption, contextCorruptionSchema } from './context-corruption.js';
import { createContextTruncation, contextTruncationSchema } from './context-truncation.js';
import { createEmpty, emptySchema } from './empty.js';
import { createError, errorSchema } from './error.js';
import { createHallucination, hallucinationSchema } from './hallucination.js';
import { createLatency, latencySchema } from './latency.js';
import { createMalformed, malformedSchema } from './malformed.js';
import { createPatch, patchSchema } from './patch.js';
import { createRateLimit, rateLimitSchema } from './rate-limit.js';
import { createReplace, replaceSchema } from './replace.js';
import { createReset, resetSchema } from './reset.js';
import { createSse, sseSchema } from './sse.js';
import { createTimeout, timeoutSchema } from './timeout.js';
import { createTruncate, truncateSchema } from './truncate.js';
import { createUncooperative, uncooperativeSchema } from './uncooperative.js';

/**
 * Every fault type and the zod schema of its `config`. Explicit imports, no side effects:
 * adding a fault means adding one file and one line here (docs/creating-faults.md).
 */
export const faultSchemas = {
  latency: latencySchema,
  error: errorSchema,
  rate_limit: rateLimitSchema,
  auth: authSchema,
  timeout: timeoutSchema,
  reset: resetSchema,
  close: closeSchema,
  truncate: truncateSchema,
  malformed: malformedSchema,
  empty: emptySchema,
  bandwidth: bandwidthSchema,
  sse: sseSchema,
  hallucination: hallucinationSchema,
  context_corruption: contextCorruptionSchema,
  context_truncation: contextTruncationSchema,
  uncooperative: uncooperativeSchema,
  budget: budgetSchema,
  replace: replaceSchema,
  patch: patchSchema,
} as const satisfies Record<string, z.ZodType>;

export type FaultType = keyof typeof faultSchemas;
export const faultTypes = Object.keys(faultSchemas) as FaultType[];

/** Pisama's experiment names, mapped to ours with the config defaults they imply. */
export const faultAliases: Record<string, { type: FaultType; defaults: Record<string, unknown> }> = {
  tool_unavailable: { type: 'error', defaults: { status: 503 } },
  uncooperative_agent: { type: 'uncooperative', defaults: {} },
  malformed_output: { type: 'malformed', defaults: {} },
};

type Configs = { [K in FaultType]: z.output<(typeof faultSchemas)[K]> };

/** Every fault type's factory: built once per experiment, it holds the fault's own state. */
export const faultFactories: { [K in FaultType]: (config: Configs[K]) => Fault } = {
  latency: createLatency,
  error: createError,
  rate_limit: createRateLimit,
  auth: createAuth,
  timeout: createTimeout,
  reset: createReset,
  close: createClose,
  truncate: createTruncate,
  malformed: createMalformed,
  empty: createEmpty,
  bandwidth: createBandwidth,
  sse: createSse,
  hallucination: createHallucination,
  context_corruption: createContextCorruption,
  context_truncation: createContextTruncation,
  uncooperative: createUncooperative,
  budget: createBudget,
  replace: createReplace,
  patch: createPatch,
};

export function isFaultType(name: string): name is FaultType {
  return Object.hasOwn(faultSchemas, name);
}
