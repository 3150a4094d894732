import { z } from 'zod';
import { nonNegInt } from './kit/common.js';
import { dialectError } from './kit/dialect.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const timeoutSchema = z.strictObject({
  after_ms: nonNegInt.default(30_000),
  // biome-ignore lint/suspicious/noThenProperty: `then` is the SPEC's key name; this object is never awaited.
  then: z
    .union([z.literal(504), z.literal('504'), z.literal('close'), z.literal('hang')])
    .default(504)
    .transform((v) => (v === '504' ? 504 : v)),
});
type TimeoutConfig = z.infer<typeof timeoutSchema>;

/** Holds the request, then answers 504 in the tool's dialect, closes, or hangs until the client leaves. */
function createTimeout(config: TimeoutConfig): Fault {
  return {
    async request(ctx) {
      if (config.then === 'hang') return { kind: 'hang' };
      const waited = await ctx.sleep(config.after_ms);
      if (!waited) return { kind: 'hang' }; // the client already left: nothing to send
      if (config.then === 'close') return { kind: 'close' };
      return dialectError(ctx.dialect, { status: 504, kind: 'timeout' }, ctx);
    },
  };
}

export const timeoutFault = defineFault({ type: 'timeout', schema: timeoutSchema, create: createTimeout });
