/**
 * What an API answers when the account's spend or quota is used up. OpenAI and Gemini send a
 * 429 that their SDKs retry; Anthropic sends what it sends for a reached workspace spend limit,
 * a 400 `invalid_request_error` that names when access returns, which its SDK does not retry.
 */
import { dialectError } from './dialect.js';
import { retryHeaders } from './rate-limit-answer.js';
import type { FaultContext, PreAction } from '../types.js';

const OPENAI_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';
const GEMINI_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';

/** `2026-04-01 at 00:00 UTC`, rounded up to the minute so access is really back by then. */
function regainAt(epochMs: number): string {
  const iso = new Date(Math.ceil(epochMs / 60_000) * 60_000).toISOString();
  return `${iso.slice(0, 10)} at ${iso.slice(11, 16)} UTC`;
}

/**
 * The quota error of the request's dialect; `untilMs` is the time left in the budget window,
 * announced as `Retry-After`/`retry-after-ms` (when a retry would succeed).
 */
export function budgetAnswer(
  ctx: Pick<FaultContext, 'dialect' | 'jsonRpcId' | 'now' | 'rng'>,
  untilMs: number,
): PreAction & { kind: 'respond' } {
  const headers = retryHeaders(untilMs);
  switch (ctx.dialect) {
    case 'openai':
      return dialectError('openai', { status: 429, kind: 'quota', message: OPENAI_MESSAGE, headers }, ctx);
    case 'anthropic': {
      const message = `You have reached your specified API usage limits. You will regain access on ${regainAt(ctx.now() + untilMs)}.`;
      return dialectError('anthropic', { status: 400, kind: 'bad_request', message, headers }, ctx);
    }
    case 'gemini': {
      const answer = dialectError('gemini', { status: 429, kind: 'quota', headers }, ctx);
      answer.body = JSON.stringify({
        error: {
          code: 429,
          message: GEMINI_MESSAGE,
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.RetryInfo',
              retryDelay: `${Number(headers['retry-after-ms']) / 1000}s`,
            },
          ],
        },
      });
      return answer;
    }
    default:
      return dialectError(ctx.dialect, { status: 429, kind: 'quota', headers }, ctx);
  }
}
