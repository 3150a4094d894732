/**
 * A 429 as each API sends it: the dialect's rate-limit headers, error body and message, plus
 * `Retry-After` (whole seconds, rounded up) and `retry-after-ms`, which the OpenAI and
 * Anthropic SDKs both honour.
 */
import { dialectError, kindForStatus } from './dialect.js';
import type { FaultContext, PreAction } from '../types.js';

export interface LimitState {
  limit: number;
  remaining: number;
  /** Ms until the limit is back to its initial state. */
  resetMs: number;
}

export interface RateLimitSpec {
  status: number;
  retryMs: number;
  /** The limit that ran out: OpenAI's error `type`, and the wording of the message. */
  exhausted: 'requests' | 'tokens';
  requests?: LimitState;
  tokens?: LimitState;
  windowS: number;
  /** The fault's `headers`, applied last. */
  headers?: Record<string, string>;
}

type Answer = PreAction & { kind: 'respond' };

export function retryHeaders(retryMs: number): Record<string, string> {
  const ms = Math.max(0, Math.ceil(retryMs));
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) };
}

/** Go's duration format, which OpenAI's reset headers use: `20ms`, `1s`, `17.28s`, `6m0s`, `1h0m0s`. */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = `${(total % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  return m > 0 ? `${m}m${s}` : s;
}

/** RFC 3339 in whole seconds, rounded up so the reset time is never earlier than the truth. */
export function rfc3339(epochMs: number): string {
  return new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function openaiHeaders(spec: RateLimitSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, state] of [
    ['requests', spec.requests],
    ['tokens', spec.tokens],
  ] as const) {
    if (!state) continue;
    out[`x-ratelimit-limit-${name}`] = String(state.limit);
    out[`x-ratelimit-remaining-${name}`] = String(state.remaining);
    out[`x-ratelimit-reset-${name}`] = goDuration(state.resetMs);
  }
  return out;
}

function anthropicHeaders(spec: RateLimitSpec, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, state] of [
    ['requests', spec.requests],
    ['tokens', spec.tokens],
  ] as const) {
    if (!state) continue;
    out[`anthropic-ratelimit-${name}-limit`] = String(state.limit);
    out[`anthropic-ratelimit-${name}-remaining`] = String(state.remaining);
    out[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + state.resetMs);
  }
  return out;
}

/** For APIs without their own scheme: the IETF draft's `RateLimit-*` fields (reset in seconds). */
function genericHeaders(state: LimitState | undefined): Record<string, string> {
  if (!state) return {};
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(Math.ceil(state.resetMs / 1000)),
  };
}

function perWindow(windowS: number, short: string): { openai: string; anthropic: string } {
  return windowS === 60
    ? { openai: `per min (${short})`, anthropic: 'per minute' }
    : { openai: `per ${windowS}s`, anthropic: `per ${windowS} seconds` };
}

/** The 429 (or the configured status) of a rate limit, in the request's dialect. */
export function rateLimitAnswer(
  ctx: Pick<FaultContext, 'dialect' | 'jsonRpcId' | 'now' | 'rng'>,
  spec: RateLimitSpec,
): Answer {
  const retry = retryHeaders(spec.retryMs);
  if (spec.status !== 429) {
    // 529 (Anthropic's overload) or a 503: not the client's limit, so no limit headers.
    const answer = dialectError(ctx.dialect, { status: spec.status, headers: retry }, ctx);
    if (ctx.dialect === 'anthropic' && kindForStatus(spec.status) === 'overloaded') {
      answer.body = JSON.stringify({
        type: 'error',
        error: { type: 'overloaded_error', message: 'Overloaded' },
      });
    }
    Object.assign(answer.headers, spec.headers);
    return answer;
  }
  const state = spec.exhausted === 'requests' ? spec.requests : spec.tokens;
  const limit = state?.limit ?? 0;
  const used = limit - (state?.remaining ?? 0);
  const per = perWindow(spec.windowS, spec.exhausted === 'requests' ? 'RPM' : 'TPM');
  let answer: Answer;
  switch (ctx.dialect) {
    case 'openai': {
      const message = `Rate limit reached on ${spec.exhausted} ${per.openai}: Limit ${limit}, Used ${used}, Requested 1. Please try again in ${goDuration(spec.retryMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`;
      answer = dialectError(
        'openai',
        { status: 429, kind: 'rate_limit', headers: { ...openaiHeaders(spec), ...retry } },
        ctx,
      );
      answer.body = JSON.stringify({
        error: { message, type: spec.exhausted, param: null, code: 'rate_limit_exceeded' },
      });
      break;
    }
    case 'anthropic': {
      const message = `This request would exceed the rate limit for your organization of ${limit} ${spec.exhausted} ${per.anthropic}. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please try again later.`;
      const headers = { ...anthropicHeaders(spec, ctx.now()), ...retry };
      answer = dialectError('anthropic', { status: 429, kind: 'rate_limit', message, headers }, ctx);
      break;
    }
    case 'gemini': {
      const message = 'Resource has been exhausted (e.g. check quota).';
      answer = dialectError('gemini', { status: 429, kind: 'rate_limit', headers: retry }, ctx);
      answer.body = JSON.stringify({
        error: {
          code: 429,
          message,
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.RetryInfo',
              retryDelay: `${Math.max(0, Math.ceil(spec.retryMs)) / 1000}s`,
            },
          ],
        },
      });
      break;
    }
    default:
      answer = dialectError(
        ctx.dialect,
        { status: 429, kind: 'rate_limit', headers: { ...genericHeaders(state), ...retry } },
        ctx,
      );
  }
  Object.assign(answer.headers, spec.headers);
  return answer;
}
