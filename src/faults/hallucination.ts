import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { probability } from './common.js';

export const hallucinationTypes = [
  'wrong_value',
  'fabricated_data',
  'contradiction',
  'confident_wrong',
  'partial_truth',
  'outdated',
  'nonexistent_reference',
] as const;

export const hallucinationSchema = z.strictObject({
  types: z.array(z.enum(hallucinationTypes)).min(1).default(['wrong_value']),
  severity: probability.default(0.3),
});
export type HallucinationConfig = z.infer<typeof hallucinationSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createHallucination(_config: HallucinationConfig): Fault {
  return pendingFault('hallucination');
}
