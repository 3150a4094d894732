import type { Transform } from 'node:stream';
import { z } from 'zod';
import { type CutPlan, cutStream } from '../stream/cut.js';
import { contentLength, hasBody, isEncoded, isEventStream } from '../stream/http-body.js';
import { nonNegInt } from './kit/common.js';
import type { Fault, FaultContext } from './types.js';
import { defineFault } from './define.js';

const truncateSchema = z
  .strictObject({
    after_bytes: nonNegInt.optional(),
    fraction: z.number().min(0).max(1).optional(),
    mode: z.enum(['abort', 'clean']).default('abort'),
  })
  .refine((c) => !(c.after_bytes !== undefined && c.fraction !== undefined), {
    message: 'give after_bytes or fraction, not both',
  });
type TruncateConfig = z.infer<typeof truncateSchema>;

/** Neither `after_bytes` nor `fraction`: half the body. */
const DEFAULT_FRACTION = 0.5;
/** How long an abort waits for the bytes before the cut to leave faultgate before it cuts anyway. */
const FLUSH_WAIT_MS = 2000;

/**
 * Abort: the connection is ended (FIN) once the bytes before the cut have left the transform, so
 * the client sees a message shorter than its `content-length`, or a chunked body without its last
 * chunk: an error, never a clean short message.
 */
async function cutWhenFlushed(ctx: FaultContext, stream: Transform): Promise<void> {
  const until = ctx.now() + FLUSH_WAIT_MS;
  while ((await ctx.sleep(1)) && stream.readableLength > 0 && ctx.now() < until) {}
  ctx.cutConnection('close');
}

/**
 * Cuts the body after `after_bytes`, or after `fraction` of it. `abort` keeps the length headers
 * and ends the connection mid-message; `clean` ends the message short with headers that match:
 * `content-length` set to the cut when the length is known, else chunked with a proper last chunk.
 */
function createTruncate(config: TruncateConfig): Fault {
  const clean = config.mode === 'clean';
  const fraction = config.fraction ?? DEFAULT_FRACTION;
  return {
    response(ctx, head) {
      if (!hasBody(ctx.method, head.status)) {
        ctx.skipped('response has no body');
        return undefined;
      }
      // Clean cuts the decoded body (a short gzip stream would not decode): its wire length is unknown.
      const declared = clean && isEncoded(head.headers) ? undefined : contentLength(head.headers);
      const at = config.after_bytes ?? (declared === undefined ? undefined : Math.floor(fraction * declared));
      if (declared !== undefined && at !== undefined && at >= declared) {
        ctx.skipped('body not longer than the cut');
        return undefined;
      }
      if (at === undefined && isEventStream(head.headers)) {
        ctx.skipped('fraction of an event stream of unknown length');
        return undefined;
      }
      if (clean && declared !== undefined) head.headers['content-length'] = String(at);
      const left = head.headers['content-length'];
      // Decided at the first byte: if faultgate dropped the length we left (a decoded body, a
      // transform that changes lengths), the declared length no longer describes these bytes.
      const plan = (): CutPlan => {
        const known = declared !== undefined && head.headers['content-length'] === left;
        if (config.after_bytes !== undefined) return { kind: 'at', at: config.after_bytes, longer: known };
        if (known) return { kind: 'at', at: at!, longer: true };
        if (isEventStream(head.headers))
          return { kind: 'none', reason: 'fraction of an event stream of unknown length' };
        return { kind: 'fraction', fraction, limit: ctx.maxBodyBytes };
      };
      const stream = cutStream({
        mode: clean ? 'end' : 'hold',
        plan,
        onCut: clean ? () => {} : (s) => void cutWhenFlushed(ctx, s),
        onUntouched: (reason) => ctx.skipped(reason),
      });
      // keepsLength: abort keeps the length on purpose; clean set it to the cut itself.
      return { stream, keepsLength: true, needsDecoded: clean, failure: true };
    },
  };
}

export const truncateFault = defineFault({
  type: 'truncate',
  schema: truncateSchema,
  create: createTruncate,
});
