import { z } from 'zod';
import { dialectSchema } from './common.js';
import { dialectError } from './dialect.js';
import type { Fault } from './types.js';

export const authSchema = z.strictObject({
  status: z.union([z.literal(401), z.literal(403)]).default(401),
  format: dialectSchema.optional(),
});
export type AuthConfig = z.infer<typeof authSchema>;

/** 401 (bad credentials) or 403 (no permission) in the tool's dialect. */
export function createAuth(config: AuthConfig): Fault {
  return { request: (ctx) => dialectError(ctx.dialect, { status: config.status }, ctx) };
}
