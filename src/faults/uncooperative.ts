import { Transform } from 'node:stream';
import { z } from 'zod';
import { bufferedRewrite, parseJson } from '../stream/buffered.js';
import {
  isEventStreamType,
  type SseEventHandler,
  SseEventTransform,
  withData,
} from '../stream/sse-transform.js';
import { nonNegInt } from './kit/common.js';
import { AnswerRewriter, AnswerStream, DEFAULT_REFUSAL, rewriteAnswerJson } from './kit/llm-answer.js';
import type { Fault, FaultContext } from './types.js';
import { defineFault } from './define.js';

const uncooperativeSchema = z.strictObject({
  mode: z.enum(['refuse', 'partial', 'stall']).default('refuse'),
  stall_ms: nonNegInt.default(30_000),
  message: z.string().optional(),
});
type UncooperativeConfig = z.infer<typeof uncooperativeSchema>;

/**
 * An LLM that will not do the job: `refuse` answers with a refusal instead of the answer (tool
 * calls included), `partial` keeps half of the answer and reports a length stop, `stall` holds
 * the answer's first byte for `stall_ms`. JSON answers are rewritten whole (at most
 * max_body_bytes); streamed answers event by event as they arrive.
 */
function createUncooperative(config: UncooperativeConfig): Fault {
  const refusal = config.message ?? DEFAULT_REFUSAL;
  return {
    async response(ctx, head) {
      const contentType = head.headers['content-type'];
      const streamed = isEventStreamType(contentType);
      if (config.mode === 'stall') {
        // A JSON answer's first byte is its head; a stream's head goes out and the events wait.
        if (streamed) return { stream: firstByteStall(ctx, config.stall_ms), keepsLength: true };
        await ctx.sleep(config.stall_ms);
        return {};
      }
      if (head.status < 200 || head.status >= 300) {
        ctx.skipped('not a successful answer');
        return undefined;
      }
      const rw = new AnswerRewriter(config.mode, refusal);
      // A cut answer is a truncated body, a failure by SPEC section 5; a refusal is a complete
      // answer the agent has to handle, so it is not.
      const failure = config.mode === 'partial';
      if (streamed) {
        const stream = new SseEventTransform(ctx, answerEvents(new AnswerStream(rw)));
        return { stream, needsDecoded: true, failure };
      }
      if (typeof contentType !== 'string' || !/json/i.test(contentType)) {
        ctx.skipped('not an LLM answer');
        return undefined;
      }
      const rewrite = (body: Buffer) => {
        const json = parseJson(body);
        if (json !== undefined && rewriteAnswerJson(json, rw)) return JSON.stringify(json);
        ctx.skipped('not an LLM answer');
        return body;
      };
      return {
        stream: bufferedRewrite(ctx.maxBodyBytes, rewrite, (reason) => ctx.skipped(reason)),
        needsDecoded: true,
        failure,
      };
    },
  };
}

/** Rewrites each JSON event of a streamed answer; events it does not change keep their bytes. */
function answerEvents(answer: AnswerStream): SseEventHandler {
  return (event, sink) => {
    const data = event.hasData ? event.data : undefined;
    let parsed: unknown;
    if (data !== undefined && data !== '[DONE]') {
      try {
        parsed = JSON.parse(data);
      } catch {
        // not JSON: not part of an answer this fault knows
      }
    }
    const result = parsed === undefined ? undefined : answer.rewrite(parsed);
    sink.push(result?.changed ? withData(event, JSON.stringify(parsed), result.name) : event.raw);
  };
}

/** Holds the body's first chunk for `ms` (interruptible); the rest flows as it comes. */
function firstByteStall(ctx: FaultContext, ms: number): Transform {
  let waited = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (waited) {
        cb(null, chunk);
        return;
      }
      waited = true;
      // Cut short (shutdown, session abort) the held chunk still goes on: a stall delays, it never drops.
      ctx.sleep(ms).then(() => cb(null, chunk));
    },
  });
}

export const uncooperativeFault = defineFault({
  type: 'uncooperative',
  schema: uncooperativeSchema,
  create: createUncooperative,
  aliases: { uncooperative_agent: {} },
});
