import { z } from 'zod';
import { pendingFault } from './pending.js';
import type { Fault } from './types.js';
import { posInt } from './common.js';

/** Prices in USD per million tokens, by model name ("*" for any model). */
const price = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

export const budgetSchema = z
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
export type BudgetConfig = z.infer<typeof budgetSchema>;

// TODO(issue 3): the runtime of this fault type; until then starting a config that uses it fails loudly.
export function createBudget(_config: BudgetConfig): Fault {
  return pendingFault('budget');
}
