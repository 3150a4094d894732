import { z } from 'zod';
import { bufferedRewrite, parseJson } from '../stream/buffered.js';
import { applyHead, hasBody, isEventStream, isJsonType } from '../stream/http-body.js';
import { isJsonObject, mergePatch } from '../stream/json-merge-patch.js';
import { headerMap, httpStatus } from './kit/common.js';
import type { Fault } from './types.js';
import { defineFault } from './define.js';

/**
 * The patch may also be JSON text: a header override (`patch;patch={"a":1}`) carries only text,
 * and its parser splits values at commas, so a list of scalars is joined back first.
 */
function jsonText(value: unknown): unknown {
  let text = value;
  if (Array.isArray(value) && typeof value[0] === 'string' && value[0].trimStart().startsWith('{'))
    text = value.join(',');
  if (typeof text !== 'string') return value;
  try {
    return JSON.parse(text);
  } catch {
    return value;
  }
}

/** `patch` is an RFC 7396 JSON merge patch applied to a JSON response body. */
const patchSchema = z.strictObject({
  patch: z.preprocess(jsonText, z.record(z.string(), z.unknown())),
  status: httpStatus.optional(),
  headers: headerMap.optional(),
});
type PatchConfig = z.infer<typeof patchSchema>;

/**
 * Applies `patch` to a JSON object response and sets `status`/`headers`. The head goes out before
 * the body is read, so a response labelled non-JSON (or an event stream, or bodiless) is skipped
 * whole; a body that turns out not to be a JSON object, or is larger than max_body_bytes, passes
 * untouched (skipped) under the changed head. The patched body is re-serialised compactly.
 */
function createPatch(config: PatchConfig): Fault {
  return {
    response(ctx, head) {
      const type = head.headers['content-type'];
      const reason = !hasBody(ctx.method, head.status)
        ? 'response has no body'
        : isEventStream(head.headers)
          ? 'event streams are not buffered'
          : type !== undefined && !isJsonType(type)
            ? 'not a JSON response'
            : undefined;
      if (reason) {
        ctx.skipped(reason);
        return undefined;
      }
      applyHead(head, config.status, config.headers);
      const rewrite = (body: Buffer): Buffer | string => {
        const value = parseJson(body);
        if (isJsonObject(value)) return JSON.stringify(mergePatch(value, config.patch));
        ctx.skipped(value === undefined ? 'body is not JSON' : 'JSON body is not an object');
        return body;
      };
      const stream = bufferedRewrite(ctx.maxBodyBytes, rewrite, (r) => ctx.skipped(r));
      return { stream, needsDecoded: true };
    },
  };
}

export const patchFault = defineFault({ type: 'patch', schema: patchSchema, create: createPatch });
