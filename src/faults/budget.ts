import { z } from 'zod';
import type { Fault, FaultContext } from './types.js';
import { posInt } from './kit/common.js';
import { budgetAnswer } from './kit/budget-answer.js';
import { BoundedMap } from './kit/rate-limit-bucket.js';
import { observeUsage, pathModel, requestModel, type Usage } from './kit/usage.js';
import { defineFault } from './define.js';

/** Prices in USD per million tokens, by model name ("*" for any model). */
const price = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

const budgetSchema = z
  .strictObject({
    calls: posInt.optional(),
    tokens: posInt.optional(),
    cost_usd: z.number().positive().optional(),
    window_s: z.number().positive().default(3600),
    per: z.enum(['agent', 'tenant']).default('agent'),
    prices: z.record(z.string().min(1), price).optional(),
  })
  .refine((c) => c.calls !== undefined || c.tokens !== undefined || c.cost_usd !== undefined, {
    message: 'budget needs calls, tokens or cost_usd',
  })
  .refine((c) => c.cost_usd === undefined || c.prices !== undefined, {
    message: 'cost_usd needs prices',
    path: ['prices'],
  });
type BudgetConfig = z.infer<typeof budgetSchema>;
type Price = z.infer<typeof price>;

interface Window {
  start: number;
  calls: number;
  tokens: number;
  costUsd: number;
}

/**
 * The price of a model: an exact key, else the longest key followed by `-` in the model name
 * (dated snapshots such as `gpt-4o-2024-08-06` pay the `gpt-4o` price), else `*`.
 */
export function priceFor(prices: Record<string, Price>, model: string | undefined): Price | undefined {
  const name = model?.replace(/^models\//, '');
  if (name !== undefined) {
    const exact = prices[name];
    if (exact) return exact;
    let best: string | undefined;
    for (const key of Object.keys(prices)) {
      if (key !== '*' && name.startsWith(`${key}-`) && (best === undefined || key.length > best.length))
        best = key;
    }
    if (best !== undefined) return prices[best];
  }
  return prices['*'];
}

export function costUsd(p: Price, usage: Usage): number {
  return (usage.inputTokens * p.input + usage.outputTokens * p.output) / 1_000_000;
}

/**
 * Counts calls, usage tokens and their cost per agent or tenant in a fixed window that starts
 * at the key's first call; once a limit is reached, every call until the window ends gets the
 * dialect's quota error instead of the upstream. Not a coin: it sees every targeted request.
 */
function createBudget(config: BudgetConfig): Fault {
  const windowMs = config.window_s * 1000;
  const windows = new BoundedMap<Window>();
  const keyOf = (ctx: FaultContext) => (config.per === 'tenant' ? ctx.tenant : ctx.agent);
  /** The key's window at `now`; an expired one starts over from `now`. */
  const current = (key: string, now: number): Window => {
    const w = windows.get(key, () => ({ start: now, calls: 0, tokens: 0, costUsd: 0 }));
    if (now - w.start >= windowMs) Object.assign(w, { start: now, calls: 0, tokens: 0, costUsd: 0 });
    return w;
  };
  const exhausted = (w: Window) =>
    (config.calls !== undefined && w.calls >= config.calls) ||
    (config.tokens !== undefined && w.tokens >= config.tokens) ||
    (config.cost_usd !== undefined && w.costUsd >= config.cost_usd);

  const fault: Fault = {
    selfDecides: true,
    request(ctx) {
      const now = ctx.now();
      const w = current(keyOf(ctx), now);
      if (!exhausted(w)) {
        w.calls++;
        return undefined; // within budget: passes untouched, nothing injected
      }
      return budgetAnswer(ctx, w.start + windowMs - now);
    },
  };
  if (config.tokens === undefined && config.cost_usd === undefined) return fault;

  const prices = config.cost_usd === undefined ? undefined : config.prices;
  // The request's model, for responses that do not name theirs; keyed by the request's headers
  // object, which lives exactly as long as the request.
  const requestModels = new WeakMap<object, string>();
  if (prices) {
    fault.requestBody = (ctx, body, headers) => {
      if (!String(headers['content-type'] ?? '').includes('json')) return undefined;
      const model = requestModel(body);
      if (model !== undefined) requestModels.set(ctx.requestHeaders, model);
      return undefined; // read, never rewritten
    };
  }
  fault.response = (ctx, head) =>
    observeUsage(ctx, head, (usage) => {
      // Counted in the window open when the response ends (a long stream may outlive its call's window).
      const w = current(keyOf(ctx), ctx.now());
      w.tokens += usage.totalTokens;
      if (!prices) return;
      const model = usage.model ?? requestModels.get(ctx.requestHeaders) ?? pathModel(ctx.path);
      const p = priceFor(prices, model);
      if (p) w.costUsd += costUsd(p, usage);
      else ctx.skipped('no price for the model'); // a fixed reason: model names would grow the metric's labels
    });
  return fault;
}

export const budgetFault = defineFault({ type: 'budget', schema: budgetSchema, create: createBudget });
