import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { dialectSchema, headerMap, httpStatus, numberOrRange, posInt } from './common.js';

export const rateLimitSchema = z.strictObject({
  status: httpStatus.default(429),
  retry_after_s: numberOrRange.default(1),
  format: dialectSchema.optional(),
  headers: headerMap.optional(),
  quota: z
    .strictObject({
      requests: posInt.optional(),
      tokens: posInt.optional(),
      window_s: z.number().positive().default(60),
      per: z.enum(['agent', 'tenant']).default('agent'),
    })
    .refine((q) => q.requests !== undefined || q.tokens !== undefined, {
      message: 'quota needs requests or tokens',
    })
    .optional(),
});
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createRateLimit(_config: RateLimitConfig): Fault {
  return pendingFault('rate_limit');
}
