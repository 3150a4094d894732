import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { probability } from './common.js';

export const contextCorruptionTypes = [
  'truncate',
  'reorder',
  'duplicate',
  'drop',
  'noise',
  'encoding',
  'stale',
  'overflow',
] as const;

export const contextCorruptionSchema = z.strictObject({
  types: z.array(z.enum(contextCorruptionTypes)).min(1).default(['truncate']),
  severity: probability.default(0.3),
});
export type ContextCorruptionConfig = z.infer<typeof contextCorruptionSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createContextCorruption(_config: ContextCorruptionConfig): Fault {
  return pendingFault('context_corruption');
}
