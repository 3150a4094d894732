import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { headerMap, httpStatus } from './common.js';

export const replaceSchema = z
  .strictObject({
    status: httpStatus.optional(),
    headers: headerMap.optional(),
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  })
  .refine((c) => c.status !== undefined || c.headers !== undefined || c.body !== undefined, {
    message: 'replace needs status, headers or body',
  });
export type ReplaceConfig = z.infer<typeof replaceSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createReplace(_config: ReplaceConfig): Fault {
  return pendingFault('replace');
}
