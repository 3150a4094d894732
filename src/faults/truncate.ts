import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { nonNegInt } from './common.js';

export const truncateSchema = z
  .strictObject({
    after_bytes: nonNegInt.optional(),
    fraction: z.number().min(0).max(1).optional(),
    mode: z.enum(['abort', 'clean']).default('abort'),
  })
  .refine((c) => !(c.after_bytes !== undefined && c.fraction !== undefined), {
    message: 'give after_bytes or fraction, not both',
  });
export type TruncateConfig = z.infer<typeof truncateSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createTruncate(_config: TruncateConfig): Fault {
  return pendingFault('truncate');
}
