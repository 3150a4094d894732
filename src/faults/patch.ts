import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { headerMap, httpStatus } from './common.js';

/** `patch` is an RFC 7396 JSON merge patch applied to a JSON response body. */
export const patchSchema = z.strictObject({
  patch: z.record(z.string(), z.unknown()),
  status: httpStatus.optional(),
  headers: headerMap.optional(),
});
export type PatchConfig = z.infer<typeof patchSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createPatch(_config: PatchConfig): Fault {
  return pendingFault('patch');
}
