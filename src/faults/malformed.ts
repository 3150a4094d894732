import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';

export const malformedSchema = z.strictObject({
  kind: z.enum(['json_syntax', 'garbage', 'wrong_content_type', 'encoding']).default('json_syntax'),
});
export type MalformedConfig = z.infer<typeof malformedSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createMalformed(_config: MalformedConfig): Fault {
  return pendingFault('malformed');
}
