import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/types.js';
import { isTerminal, sseErrorEvent, sseTerminalEvent } from '../../src/stream/sse-dialect.js';
import { SseParser } from '../../src/stream/sse-parser.js';

const one = (raw: Buffer | string) => {
  const events = SseParser.parseAll(Buffer.from(raw));
  expect(events).toHaveLength(1);
  expect(events[0]!.incomplete).toBe(false);
  return events[0]!;
};

describe('isTerminal', () => {
  it.each([
    ['OpenAI [DONE]', 'data: [DONE]\n\n'],
    ['Anthropic message_stop', 'event: message_stop\ndata: {"type":"message_stop"}\n\n'],
    ['Anthropic type without event name', 'data: {"type":"message_stop"}\n\n'],
    [
      'Responses completed',
      'event: response.completed\ndata: {"type":"response.completed","response":{}}\n\n',
    ],
    ['Responses failed', 'event: response.failed\ndata: {}\n\n'],
    ['a type with JSON whitespace', 'data: { "type" : "response.failed" }\n\n'],
    [
      'Responses incomplete by type',
      'data: {"type":"response.incomplete","response":{"status":"incomplete"}}\n\n',
    ],
  ])('is true for %s', (_name, raw) => {
    expect(isTerminal(one(raw))).toBe(true);
  });

  it.each([
    ['an OpenAI delta', 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'],
    [
      'a delta that mentions a terminal type',
      'data: {"type":"response.output_text.delta","delta":"response.completed"}\n\n',
    ],
    [
      'Anthropic message_delta',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n',
    ],
    ['a comment', ': [DONE]\n\n'],
    ['[DONE] with extra text', 'data: [DONE] later\n\n'],
  ])('is false for %s', (_name, raw) => {
    expect(isTerminal(one(raw))).toBe(false);
  });
});

describe('sseErrorEvent', () => {
  it('writes the Anthropic overloaded_error event', () => {
    const raw = sseErrorEvent('anthropic');
    expect(raw.toString()).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    );
    expect(one(raw).event).toBe('error');
  });

  it('writes the OpenAI server_error data line', () => {
    const body = JSON.parse(one(sseErrorEvent('openai')).data!);
    expect(body.error).toMatchObject({ type: 'server_error', param: null, code: null });
    expect(body.error.message).toEqual(expect.any(String));
  });

  it.each(['gemini', 'json'] as const)('writes a 503 UNAVAILABLE error for %s', (dialect) => {
    const body = JSON.parse(one(sseErrorEvent(dialect)).data!);
    expect(body.error).toMatchObject({ code: 503, status: 'UNAVAILABLE' });
  });

  it('writes a JSON-RPC error for mcp', () => {
    const e = one(sseErrorEvent('mcp'));
    expect(e.event).toBe('message');
    expect(JSON.parse(e.data!)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
  });

  it.each(['openai', 'anthropic', 'gemini', 'json', 'mcp', 'text'] as Dialect[])(
    'keeps a custom message with quotes and line breaks in one event for %s',
    (dialect) => {
      const message = 'line "one"\nline two\r\nthree';
      const e = one(sseErrorEvent(dialect, { message }));
      expect(e.data!.includes('line two')).toBe(true);
      expect(isTerminal(e)).toBe(false);
    },
  );
});

describe('sseTerminalEvent', () => {
  it('writes [DONE] for openai and message_stop for anthropic, both terminal', () => {
    expect(sseTerminalEvent('openai')!.toString()).toBe('data: [DONE]\n\n');
    expect(sseTerminalEvent('anthropic')!.toString()).toBe(
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    expect(isTerminal(one(sseTerminalEvent('openai')!))).toBe(true);
    expect(isTerminal(one(sseTerminalEvent('anthropic')!))).toBe(true);
  });

  it('has none for dialects whose streams just end', () => {
    expect(sseTerminalEvent('gemini')).toBeUndefined();
  });
});
