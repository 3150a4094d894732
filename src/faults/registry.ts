import type { z } from 'zod';
import { authSchema } from './auth.js';
import { bandwidthSchema } from './bandwidth.js';
import { budgetSchema } from './budget.js';
import { closeSchema } from './close.js';
import { contextCorruptionSchema } from './context-corruption.js';
import { contextTruncationSchema } from './context-truncation.js';
import { emptySchema } from './empty.js';
import { errorSchema } from './error.js';
import { hallucinationSchema } from './hallucination.js';
import { latencySchema } from './latency.js';
import { malformedSchema } from './malformed.js';
import { patchSchema } from './patch.js';
import { rateLimitSchema } from './rate-limit.js';
import { replaceSchema } from './replace.js';
import { resetSchema } from './reset.js';
import { sseSchema } from './sse.js';
import { timeoutSchema } from './timeout.js';
import { truncateSchema } from './truncate.js';
import { uncooperativeSchema } from './uncooperative.js';

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

export function isFaultType(name: string): name is FaultType {
  return Object.hasOwn(faultSchemas, name);
}
