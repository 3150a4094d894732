import { z } from 'zod';
import { nonNegInt } from './common.js';

export const resetSchema = z.strictObject({
  phase: z.enum(['before_response', 'mid_body']).default('before_response'),
  after_bytes: nonNegInt.default(0),
});
export type ResetConfig = z.infer<typeof resetSchema>;
