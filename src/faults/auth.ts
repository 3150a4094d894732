import { z } from 'zod';
import { dialectSchema } from './common.js';

export const authSchema = z.strictObject({
  status: z.union([z.literal(401), z.literal(403)]).default(401),
  format: dialectSchema.optional(),
});
export type AuthConfig = z.infer<typeof authSchema>;
