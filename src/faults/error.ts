import { z } from 'zod';
import { dialectSchema, headerMap, httpStatus } from './common.js';

export const errorSchema = z.strictObject({
  status: z.union([httpStatus, z.array(httpStatus).min(1)]).default([500, 502, 503, 504]),
  format: dialectSchema.optional(),
  body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  headers: headerMap.optional(),
  should_retry: z.boolean().optional(),
});
export type ErrorConfig = z.infer<typeof errorSchema>;
