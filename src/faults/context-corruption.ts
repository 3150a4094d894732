import { z } from 'zod';
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
