/**
 * Which LLM API an event stream speaks, from the events themselves: a tool without a `format`
 * has the `json` dialect, yet its stream may well be Anthropic's or OpenAI's.
 */
import type { Dialect } from '../types.js';
import { sseErrorEvent } from './sse-dialect.js';
import type { SseEvent } from './sse-parser.js';

/** `chat`: OpenAI Chat Completions; `responses`: OpenAI Responses API. */
export type SseApi = 'chat' | 'responses' | 'anthropic' | 'gemini';

const ANTHROPIC_EVENTS = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
]);

/** Classifies one event by its name or the first bytes of its data; undefined if it does not tell. */
export function sniffApi(event: SseEvent): SseApi | undefined {
  const name = event.event;
  if (name !== undefined) {
    if (ANTHROPIC_EVENTS.has(name)) return 'anthropic';
    if (name.startsWith('response.')) return 'responses';
  }
  const head = event.dataHead(160);
  if (head === undefined) return undefined;
  if (/^\{\s*"type"\s*:\s*"response\./.test(head)) return 'responses';
  if (/^\{\s*"type"\s*:\s*"(?:message_start|content_block_|message_delta)/.test(head)) return 'anthropic';
  if (head.includes('"chat.completion.chunk"') || head.includes('"choices"')) return 'chat';
  if (head.includes('"candidates"')) return 'gemini';
  return undefined;
}

/**
 * The dialect to write a mid-stream error in: an explicit fault `format` wins, then what the
 * stream turned out to speak, then the tool's dialect.
 */
export function streamDialect(format: Dialect | undefined, api: SseApi | undefined, tool: Dialect): Dialect {
  if (format) return format;
  if (api === 'anthropic') return 'anthropic';
  if (api === 'chat' || api === 'responses') return 'openai';
  if (api === 'gemini') return 'gemini';
  return tool;
}

/**
 * The mid-stream error event for a stream: the Responses API has its own `error` event
 * (`{"type":"error","code",...,"sequence_number"}`); everything else comes from sse-dialect.
 */
export function midStreamError(dialect: Dialect, api: SseApi | undefined, sequence: number): Buffer {
  if (api === 'responses' && dialect === 'openai') {
    const body = {
      type: 'error',
      code: 'server_error',
      message: 'The server had an error while processing your request. Sorry about that!',
      param: null,
      sequence_number: sequence,
    };
    return Buffer.from(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }
  return sseErrorEvent(dialect);
}
