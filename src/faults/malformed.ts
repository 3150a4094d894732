import { z } from 'zod';
import { bufferedRewrite } from '../stream/buffered.js';
import { breakJson, garbageStream, invalidUtf8Stream } from '../stream/corrupt.js';
import { hasBody, isEventStream } from '../stream/http-body.js';
import type { Fault, FaultContext, ResponseEffect, ResponseHead } from './types.js';
import { defineFault } from './define.js';

const malformedSchema = z.strictObject({
  kind: z.enum(['json_syntax', 'garbage', 'wrong_content_type', 'encoding']).default('json_syntax'),
});
type MalformedConfig = z.infer<typeof malformedSchema>;

/** What `wrong_content_type` labels a body with: HTML, the usual lie of a gateway error page. */
const WRONG_CONTENT_TYPE = 'text/html; charset=utf-8';

function wrongContentType(head: ResponseHead): ResponseEffect {
  const current = head.headers['content-type'] ?? '';
  // Already HTML: the lie goes the other way.
  head.headers['content-type'] = /^\s*text\/html/i.test(current) ? 'application/json' : WRONG_CONTENT_TYPE;
  return { failure: true };
}

function jsonSyntax(ctx: FaultContext, head: ResponseHead): ResponseEffect | undefined {
  if (isEventStream(head.headers)) {
    ctx.skipped('event streams are not buffered');
    return undefined;
  }
  const rewrite = (body: Buffer): Buffer => {
    const broken = breakJson(body, ctx.rng);
    if (broken) return broken;
    ctx.skipped('body is not JSON');
    return body;
  };
  const stream = bufferedRewrite(ctx.maxBodyBytes, rewrite, (reason) => ctx.skipped(reason));
  return { stream, keepsLength: true, needsDecoded: true, failure: true };
}

/**
 * Corrupts the body. Every kind keeps the body's length, so a `content-length` stays true; a
 * compressed body is decoded first (the corruption is in the text, not in the compression).
 * - `json_syntax`: the JSON no longer parses (closing bracket dropped, a stray character in);
 *   a body that is not JSON, or larger than max_body_bytes, passes untouched (skipped).
 * - `garbage`: random bytes of the same length.
 * - `wrong_content_type`: the body stays, `content-type` becomes text/html.
 * - `encoding`: bytes that are never valid UTF-8 replace some letters of the text.
 */
function createMalformed(config: MalformedConfig): Fault {
  return {
    response(ctx, head) {
      if (config.kind === 'wrong_content_type') return wrongContentType(head);
      if (!hasBody(ctx.method, head.status)) {
        ctx.skipped('response has no body');
        return undefined;
      }
      switch (config.kind) {
        case 'json_syntax':
          return jsonSyntax(ctx, head);
        case 'garbage':
          return { stream: garbageStream(ctx.rng), keepsLength: true, needsDecoded: true, failure: true };
        case 'encoding': {
          const stream = invalidUtf8Stream(ctx.rng, (reason) => ctx.skipped(reason));
          return { stream, keepsLength: true, needsDecoded: true, failure: true };
        }
      }
    },
  };
}

export const malformedFault = defineFault({
  type: 'malformed',
  schema: malformedSchema,
  create: createMalformed,
  aliases: { malformed_output: {} },
});
