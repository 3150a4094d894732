import { z } from 'zod';
import { dialectSchema } from './kit/common.js';
import { dialectError } from './kit/dialect.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const authSchema = z.strictObject({
  status: z.union([z.literal(401), z.literal(403)]).default(401),
  format: dialectSchema.optional(),
});
type AuthConfig = z.infer<typeof authSchema>;

/** 401 (bad credentials) or 403 (no permission) in the tool's dialect. */
function createAuth(config: AuthConfig): Fault {
  return { request: (ctx) => dialectError(ctx.dialect, { status: config.status }, ctx) };
}

export const authFault = defineFault({ type: 'auth', schema: authSchema, create: createAuth });
