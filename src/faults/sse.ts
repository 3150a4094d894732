import { z } from 'zod';
import { midStreamError, type SseApi, sniffApi, streamDialect } from '../stream/sse-api.js';
import { isTerminal } from '../stream/sse-dialect.js';
import {
  isEventStreamType,
  type SseEventHandler,
  SseEventTransform,
  withData,
} from '../stream/sse-transform.js';
import { dialectSchema, nonNegInt, probability } from './kit/common.js';
import { safeCut } from './kit/llm-answer.js';
import type { Fault, FaultContext, Rng } from './types.js';
import { defineFault } from './define.js';

const sseActions = [
  'truncate',
  'drop',
  'duplicate',
  'corrupt',
  'delay',
  'error_event',
  'no_done',
  'stall',
] as const;

const sseSchema = z.strictObject({
  action: z.enum(sseActions),
  after_events: nonNegInt.default(0),
  event_probability: probability.default(1),
  delay_ms: nonNegInt.default(1000),
  format: dialectSchema.optional(),
});
type SseConfig = z.infer<typeof sseSchema>;

/** Actions that end the stream at the chosen event; the terminal event may be that event. */
const ENDING = new Set<SseConfig['action']>(['truncate', 'stall', 'error_event']);

/**
 * Event-aware faults on `text/event-stream` bodies. The engine decided that the request is
 * affected; this decides, per event, which events are: the first `after_events` events pass,
 * each later one is affected with `event_probability`. Untouched events keep their exact bytes.
 */
function createSse(config: SseConfig): Fault {
  return {
    response(ctx, head) {
      if (!isEventStreamType(head.headers['content-type'])) {
        ctx.skipped('not an event stream');
        return undefined;
      }
      return {
        stream: new SseEventTransform(ctx, eventHandler(config, ctx)),
        keepsLength: config.action === 'delay',
        needsDecoded: true,
        // Every action but a delay leaves the client a broken stream (SPEC section 5: a failure).
        failure: config.action !== 'delay',
      };
    },
  };
}

function eventHandler(config: SseConfig, ctx: FaultContext): SseEventHandler {
  // The run gives each experiment its own stream: event decisions stay the same whatever other
  // faults of the request draw per chunk, and however the upstream happens to split its writes.
  const { rng } = ctx;
  const { action } = config;
  let counted = 0;
  let api: SseApi | undefined;
  return (event, sink) => {
    // Comments (keep-alives) and blocks without data are not events a client sees.
    if (!event.hasData) {
      sink.push(event.raw);
      return;
    }
    api ??= sniffApi(event);
    const terminal = isTerminal(event);
    if (action === 'no_done') {
      if (terminal) sink.end();
      else sink.push(event.raw);
      return;
    }
    if (terminal && !ENDING.has(action)) {
      sink.push(event.raw);
      return;
    }
    const index = counted++;
    if (index < config.after_events || !(rng.next() < config.event_probability)) {
      sink.push(event.raw);
      return;
    }
    switch (action) {
      case 'drop':
        return;
      case 'duplicate':
        sink.push(event.raw);
        sink.push(withoutBom(event.raw));
        return;
      case 'corrupt':
        sink.push(withData(event, garble(event.data ?? '', rng)));
        return;
      case 'delay':
        // Cut short (shutdown, session abort) the event still goes on: a delay never drops it.
        return ctx.sleep(config.delay_ms).then(() => sink.push(event.raw));
      case 'truncate':
        sink.cut();
        return;
      case 'stall':
        sink.stall();
        return;
      case 'error_event':
        sink.push(midStreamError(streamDialect(config.format, api, ctx.dialect), api, index));
        sink.end();
        return;
    }
  };
}

/**
 * Cuts the data at a random point and appends U+FFFD twice: inside a JSON string that leaves it
 * unterminated, outside one it is not a JSON token, so the result never parses.
 */
function garble(data: string, rng: Rng): string {
  const at = safeCut(data, rng.int(0, Math.max(0, data.length - 1)));
  return `${data.slice(0, at)}\uFFFD\uFFFD`;
}

/** A duplicated first event must not repeat the stream's BOM mid-stream. */
function withoutBom(raw: Buffer): Buffer {
  return raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
}

export const sseFault = defineFault({ type: 'sse', schema: sseSchema, create: createSse });
