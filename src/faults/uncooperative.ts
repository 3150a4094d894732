import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { nonNegInt } from './common.js';

export const uncooperativeSchema = z.strictObject({
  mode: z.enum(['refuse', 'partial', 'stall']).default('refuse'),
  stall_ms: nonNegInt.default(30_000),
  message: z.string().optional(),
});
export type UncooperativeConfig = z.infer<typeof uncooperativeSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createUncooperative(_config: UncooperativeConfig): Fault {
  return pendingFault('uncooperative');
}
