import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { nonNegInt } from './common.js';

export const contextTruncationSchema = z
  .strictObject({
    max_chars: nonNegInt.optional(),
    fraction: z.number().min(0).max(1).optional(),
    paths: z.array(z.string().min(1)).optional(),
  })
  .refine((c) => (c.max_chars === undefined) !== (c.fraction === undefined), {
    message: 'give exactly one of max_chars or fraction',
  });
export type ContextTruncationConfig = z.infer<typeof contextTruncationSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createContextTruncation(_config: ContextTruncationConfig): Fault {
  return pendingFault('context_truncation');
}
