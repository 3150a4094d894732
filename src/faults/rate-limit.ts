import { z } from 'zod';
import type { Fault, FaultContext } from './types.js';
import { dialectSchema, headerMap, httpStatus, numberOrRange, posInt } from './kit/common.js';
import { type LimitState, rateLimitAnswer } from './kit/rate-limit-answer.js';
import { TokenBuckets } from './kit/rate-limit-bucket.js';
import { observeUsage } from './kit/usage.js';
import { defineFault } from './define.js';

const rateLimitSchema = z.strictObject({
  status: httpStatus.default(429),
  retry_after_s: numberOrRange.default(1),
  format: dialectSchema.optional(),
  headers: headerMap.optional(),
  quota: z
    .strictObject({
      requests: posInt.optional(),
      tokens: posInt.optional(),
      window_s: z.number().positive().default(60),
      per: z.enum(['agent', 'tenant']).default('agent'),
    })
    .refine((q) => q.requests !== undefined || q.tokens !== undefined, {
      message: 'quota needs requests or tokens',
    })
    .optional(),
});
type RateLimitConfig = z.infer<typeof rateLimitSchema>;
type Quota = NonNullable<RateLimitConfig['quota']>;

/**
 * The limits a probabilistic 429 reports: a per-minute request limit that just ran out. The
 * numbers are OpenAI's tier-1 defaults in spirit; `headers` overrides any of them.
 */
const COIN_REQUESTS = 60;
const COIN_TOKENS = 150_000;

/**
 * Answers 429 without calling the upstream. Without `quota` the decision engine's coin decides
 * and `retry_after_s` is drawn per answer; with `quota` the fault decides itself from real
 * token buckets per agent or tenant, and a request that finds tokens passes untouched.
 */
function createRateLimit(config: RateLimitConfig): Fault {
  if (config.quota) return quotaFault(config, config.quota);
  const [min, max] =
    typeof config.retry_after_s === 'number'
      ? [config.retry_after_s, config.retry_after_s]
      : config.retry_after_s;
  return {
    request(ctx) {
      const retryMs = Math.round((min === max ? min : ctx.rng.between(min, max)) * 1000);
      return rateLimitAnswer(ctx, {
        status: config.status,
        retryMs,
        exhausted: 'requests',
        requests: { limit: COIN_REQUESTS, remaining: 0, resetMs: retryMs },
        tokens: { limit: COIN_TOKENS, remaining: COIN_TOKENS, resetMs: 0 },
        windowS: 60,
        headers: config.headers,
      });
    },
  };
}

function quotaFault(config: RateLimitConfig, quota: Quota): Fault {
  const windowMs = quota.window_s * 1000;
  const requests = quota.requests === undefined ? undefined : new TokenBuckets(quota.requests, windowMs);
  const tokens = quota.tokens === undefined ? undefined : new TokenBuckets(quota.tokens, windowMs);
  const keyOf = (ctx: FaultContext) => (quota.per === 'tenant' ? ctx.tenant : ctx.agent);
  const fault: Fault = {
    selfDecides: true,
    request(ctx) {
      const key = keyOf(ctx);
      const now = ctx.now();
      const r = requests?.refill(key, now);
      const t = tokens?.refill(key, now);
      const waitRequests = r ? requests!.waitMs(r) : 0;
      const waitTokens = t ? tokens!.waitMs(t) : 0;
      if (waitRequests === 0 && waitTokens === 0) {
        if (r) r.level -= 1;
        return undefined; // within quota: the request goes on, and nothing was injected
      }
      const state = (buckets: TokenBuckets | undefined, b: typeof r): LimitState | undefined =>
        buckets && b
          ? { limit: buckets.capacity, remaining: buckets.remaining(b), resetMs: buckets.resetMs(b) }
          : undefined;
      return rateLimitAnswer(ctx, {
        status: config.status,
        // A request needs a token of each bucket: it may come back when the slower one has one.
        retryMs: Math.max(waitRequests, waitTokens),
        exhausted: waitRequests >= waitTokens ? 'requests' : 'tokens',
        requests: state(requests, r),
        tokens: state(tokens, t),
        windowS: quota.window_s,
        headers: config.headers,
      });
    },
  };
  if (tokens) {
    // Usage is known only when the response ends; the bucket may go into debt, which later requests wait out.
    fault.response = (ctx, head) =>
      observeUsage(ctx, head, (usage) => tokens.charge(keyOf(ctx), ctx.now(), usage.totalTokens));
  }
  return fault;
}

export const rateLimitFault = defineFault({
  type: 'rate_limit',
  schema: rateLimitSchema,
  create: createRateLimit,
});
