import { z } from 'zod';
import { dialectSchema, headerMap, httpStatus } from './kit/common.js';
import { dialectError } from './kit/dialect.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const errorSchema = z.strictObject({
  status: z.union([httpStatus, z.array(httpStatus).min(1)]).default([500, 502, 503, 504]),
  format: dialectSchema.optional(),
  body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  headers: headerMap.optional(),
  should_retry: z.boolean().optional(),
});
type ErrorConfig = z.infer<typeof errorSchema>;

/** Answers without calling the upstream: a status drawn from `status`, the body in the tool's dialect. */
function createError(config: ErrorConfig): Fault {
  const statuses = Array.isArray(config.status) ? config.status : [config.status];
  return {
    request(ctx) {
      const status = ctx.rng.pick(statuses);
      const headers: Record<string, string> = { ...config.headers };
      if (config.should_retry !== undefined) headers['x-should-retry'] = String(config.should_retry);
      const answer = dialectError(ctx.dialect, { status, headers }, ctx);
      if (config.body !== undefined) {
        answer.body = typeof config.body === 'string' ? config.body : JSON.stringify(config.body);
      }
      return answer;
    },
  };
}

export const errorFault = defineFault({
  type: 'error',
  schema: errorSchema,
  create: createError,
  aliases: { tool_unavailable: { status: 503 } },
});
