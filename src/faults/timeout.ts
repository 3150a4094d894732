import { z } from 'zod';
import { nonNegInt } from './common.js';

export const timeoutSchema = z.strictObject({
  after_ms: nonNegInt.default(30_000),
  // biome-ignore lint/suspicious/noThenProperty: `then` is the SPEC's key name; this object is never awaited.
  then: z
    .union([z.literal(504), z.literal('504'), z.literal('close'), z.literal('hang')])
    .default(504)
    .transform((v) => (v === '504' ? 504 : v)),
});
export type TimeoutConfig = z.infer<typeof timeoutSchema>;
