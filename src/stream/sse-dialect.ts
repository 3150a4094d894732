/**
 * What each LLM/tool dialect writes on an event stream for "it broke mid-way" and "it is over".
 * Bodies copy what the real APIs send, so agents hit the error paths their SDKs really have.
 */
import type { Dialect } from '../types.js';
import type { SseEvent } from './sse-parser.js';

export interface SseErrorOptions {
  /** Replaces the dialect's default overload message. */
  message?: string;
}

const DEFAULT_MESSAGE: Record<Dialect, string> = {
  openai: 'The server had an error while processing your request. Sorry about that!',
  anthropic: 'Overloaded',
  gemini: 'The model is overloaded. Please try again later.',
  json: 'The service is overloaded. Please try again later.',
  mcp: 'Server overloaded',
  text: 'Server overloaded',
};

/** The mid-stream error event for `sse` action `error_event` (default: overload). */
export function sseErrorEvent(dialect: Dialect, options: SseErrorOptions = {}): Buffer {
  const message = options.message ?? DEFAULT_MESSAGE[dialect];
  switch (dialect) {
    case 'anthropic':
      return frame('error', { type: 'error', error: { type: 'overloaded_error', message } });
    case 'openai':
      // Chat Completions sends errors as a bare data line; the SDKs look for an `error` key.
      return frame(undefined, { error: { message, type: 'server_error', param: null, code: null } });
    case 'gemini':
    case 'json':
      return frame(undefined, { error: { code: 503, message, status: 'UNAVAILABLE' } });
    case 'mcp':
      // JSON-RPC "server error" range; id null because the fault cannot know the request's id.
      return frame('message', { jsonrpc: '2.0', id: null, error: { code: -32000, message } });
    case 'text':
      return Buffer.from(`event: error\n${dataLines(message)}\n`);
  }
}

const TERMINAL: Partial<Record<Dialect, Buffer>> = {
  openai: Buffer.from('data: [DONE]\n\n'),
  anthropic: Buffer.from('event: message_stop\ndata: {"type":"message_stop"}\n\n'),
};

/**
 * The event that tells a client the stream finished normally, or undefined for dialects whose
 * streams just end (Gemini's last chunk only carries `finishReason`).
 */
export function sseTerminalEvent(dialect: Dialect): Buffer | undefined {
  const event = TERMINAL[dialect];
  // A copy, so a fault that corrupts what it writes cannot corrupt every later stream.
  return event && Buffer.from(event);
}

const TERMINAL_NAMES = new Set([
  'message_stop',
  'response.completed',
  'response.failed',
  'response.incomplete',
]);
/**
 * Both APIs write `type` as the first key. Anchoring on it rejects an ordinary delta at its
 * first bytes: searching (or JSON.parse of) the whole data cost as much as the framing, and
 * only the data's first bytes need decoding.
 */
const TERMINAL_DATA = /^\{\s*"type"\s*:\s*"(?:message_stop|response\.(?:completed|failed|incomplete))"/;

/**
 * True for an event after which a well-behaved upstream sends nothing: OpenAI `[DONE]`,
 * Anthropic `message_stop`, Responses API `response.completed|failed|incomplete`, by event
 * name or by the `type` of the JSON data (some gateways drop event names).
 */
export function isTerminal(event: SseEvent): boolean {
  const name = event.event;
  if (name !== undefined && TERMINAL_NAMES.has(name)) return true;
  const head = event.dataHead(64);
  if (head === undefined) return false;
  if (head === '[DONE]') return event.data === '[DONE]';
  return TERMINAL_DATA.test(head);
}

function frame(event: string | undefined, payload: unknown): Buffer {
  const head = event === undefined ? '' : `event: ${event}\n`;
  return Buffer.from(`${head}data: ${JSON.stringify(payload)}\n\n`);
}

/** Text may hold line breaks, which would end a data line early: one data line per line. */
function dataLines(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
}
