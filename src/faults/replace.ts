import { z } from 'zod';
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
