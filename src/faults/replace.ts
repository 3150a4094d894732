import { Transform, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { applyHead, hasBody } from '../stream/http-body.js';
import { headerMap, httpStatus } from './kit/common.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

const replaceSchema = z
  .strictObject({
    status: httpStatus.optional(),
    headers: headerMap.optional(),
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  })
  .refine((c) => c.status !== undefined || c.headers !== undefined || c.body !== undefined, {
    message: 'replace needs status, headers or body',
  });
type ReplaceConfig = z.infer<typeof replaceSchema>;

/**
 * Reads and drops the upstream body, then sends `body` when the upstream's has ended: the
 * response keeps the upstream's timing, and the upstream connection stays reusable.
 */
function replaceBody(body: Buffer): Transform {
  return new Transform({
    transform(_chunk: Buffer, _enc, cb: TransformCallback) {
      cb();
    },
    flush(cb: TransformCallback) {
      cb(null, body.length > 0 ? body : undefined);
    },
  });
}

/**
 * Rewrites a real response: `status`, `headers` (an empty value removes a header) and `body`.
 * A string body is sent as is, an object or array as JSON (with `content-type: application/json`
 * unless `headers` sets one); `content-length` always matches what is sent.
 */
function createReplace(config: ReplaceConfig): Fault {
  const json = config.body !== undefined && typeof config.body !== 'string';
  const body =
    config.body === undefined
      ? undefined
      : Buffer.from(typeof config.body === 'string' ? config.body : JSON.stringify(config.body));
  const ownContentType = Object.keys(config.headers ?? {}).some((k) => k.toLowerCase() === 'content-type');
  return {
    response(ctx, head) {
      applyHead(head, config.status, config.headers);
      const bodyless = !hasBody('GET', head.status);
      if (bodyless) delete head.headers['content-length'];
      if (!body) return {};
      if (json && !ownContentType) head.headers['content-type'] = 'application/json';
      delete head.headers['content-encoding']; // the new body is plain text
      // A HEAD response declares the length a GET would get; node sends no body for it.
      if (!bodyless) head.headers['content-length'] = String(body.length);
      const sent = bodyless || ctx.method === 'HEAD' ? Buffer.alloc(0) : body;
      return { stream: replaceBody(sent), keepsLength: true };
    },
  };
}

export const replaceFault = defineFault({ type: 'replace', schema: replaceSchema, create: createReplace });
