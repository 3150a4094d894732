import { z } from 'zod';
import { headerMap, httpStatus } from './common.js';

/** `patch` is an RFC 7396 JSON merge patch applied to a JSON response body. */
export const patchSchema = z.strictObject({
  patch: z.record(z.string(), z.unknown()),
  status: httpStatus.optional(),
  headers: headerMap.optional(),
});
export type PatchConfig = z.infer<typeof patchSchema>;
