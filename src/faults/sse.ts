import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { dialectSchema, nonNegInt, probability } from './common.js';

export const sseActions = [
  'truncate',
  'drop',
  'duplicate',
  'corrupt',
  'delay',
  'error_event',
  'no_done',
  'stall',
] as const;

export const sseSchema = z.strictObject({
  action: z.enum(sseActions),
  after_events: nonNegInt.default(0),
  event_probability: probability.default(1),
  delay_ms: nonNegInt.default(1000),
  format: dialectSchema.optional(),
});
export type SseConfig = z.infer<typeof sseSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createSse(_config: SseConfig): Fault {
  return pendingFault('sse');
}
