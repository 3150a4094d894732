import { z } from 'zod';
import { Transform } from 'node:stream';
import { nonNegInt } from './kit/common.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const resetSchema = z.strictObject({
  phase: z.enum(['before_response', 'mid_body']).default('before_response'),
  after_bytes: nonNegInt.default(0),
});
type ResetConfig = z.infer<typeof resetSchema>;

/** A real TCP RST: before any response, or after `after_bytes` of the body went out. */
function createReset(config: ResetConfig): Fault {
  if (config.phase === 'before_response') return { request: () => ({ kind: 'reset' }) };
  return {
    response(ctx) {
      let sent = 0;
      const stream = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          const room = config.after_bytes - sent;
          if (room >= chunk.length) {
            sent += chunk.length;
            cb(null, chunk);
            return;
          }
          if (room > 0) this.push(chunk.subarray(0, room));
          sent = config.after_bytes;
          // Let the bytes before the cut reach the socket, then reset it. The callback is never
          // called: the body must not end cleanly; the pipeline ends when the socket is gone.
          setImmediate(() => ctx.cutConnection('reset'));
        },
        flush(cb) {
          // The body ended before after_bytes: nothing was reset.
          ctx.skipped('body not longer than after_bytes');
          cb();
        },
      });
      return { stream, keepsLength: true, failure: true };
    },
  };
}

export const resetFault = defineFault({ type: 'reset', schema: resetSchema, create: createReset });
