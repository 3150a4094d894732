import { z } from 'zod';
import { nonNegInt } from './common.js';

export const uncooperativeSchema = z.strictObject({
  mode: z.enum(['refuse', 'partial', 'stall']).default('refuse'),
  stall_ms: nonNegInt.default(30_000),
  message: z.string().optional(),
});
export type UncooperativeConfig = z.infer<typeof uncooperativeSchema>;
