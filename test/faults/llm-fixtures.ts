/**
 * LLM answers as real APIs send them, for stream and answer faults: OpenAI Chat Completions,
 * Anthropic Messages, OpenAI Responses and Gemini, as JSON bodies and as event streams (each
 * stream is a list of raw events, so tests can compare what arrives byte for byte).
 */

export const WORDS = ['Hello', ' there', ',', ' the', ' weather', ' in', ' Paris', ' is', ' sunny', '.'];
export const FULL = WORDS.join('');
export const HALF = FULL.slice(0, Math.floor(FULL.length / 2));

const sse = (name: string | undefined, data: unknown) =>
  `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

const chat = (delta: object, finish: string | null = null) =>
  sse(undefined, {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });

/** OpenAI: role chunk, one chunk per word, a keep-alive comment mid-way, finish chunk, [DONE]. */
export const openaiStream = [
  chat({ role: 'assistant', content: '' }),
  ...WORDS.slice(0, 5).map((w) => chat({ content: w })),
  ': keep-alive\n\n',
  ...WORDS.slice(5).map((w) => chat({ content: w })),
  chat({}, 'stop'),
  'data: [DONE]\n\n',
];

const block = (index: number, delta: object) =>
  sse('content_block_delta', { type: 'content_block_delta', index, delta });
const messageStart = sse('message_start', {
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 1 },
  },
});
const stop = (reason: string) => [
  sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: reason, stop_sequence: null },
    usage: { output_tokens: 10 },
  }),
  sse('message_stop', { type: 'message_stop' }),
];

export const anthropicStream = [
  messageStart,
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }),
  sse('ping', { type: 'ping' }),
  ...WORDS.map((w) => block(0, { type: 'text_delta', text: w })),
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  ...stop('end_turn'),
];

/** Anthropic: some text, then a tool_use block streamed as input_json_delta pieces. */
export const anthropicToolStream = [
  messageStart,
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }),
  block(0, { type: 'text_delta', text: 'Let me check.' }),
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
  sse('content_block_start', {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} },
  }),
  block(1, { type: 'input_json_delta', partial_json: '{"city": ' }),
  block(1, { type: 'input_json_delta', partial_json: '"Paris"}' }),
  sse('content_block_stop', { type: 'content_block_stop', index: 1 }),
  ...stop('tool_use'),
];

const item = (text: string) => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text, annotations: [] }],
});
const at = { item_id: 'msg_1', output_index: 0, content_index: 0 };
const responsesData = [
  {
    type: 'response.created',
    response: { id: 'resp_1', object: 'response', status: 'in_progress', output: [] },
  },
  { type: 'response.output_item.added', output_index: 0, item: { ...item(''), content: [] } },
  { type: 'response.content_part.added', ...at, part: { type: 'output_text', text: '', annotations: [] } },
  ...WORDS.map((delta) => ({ type: 'response.output_text.delta', ...at, delta })),
  { type: 'response.output_text.done', ...at, text: FULL },
  { type: 'response.content_part.done', ...at, part: { type: 'output_text', text: FULL, annotations: [] } },
  { type: 'response.output_item.done', output_index: 0, item: item(FULL) },
  {
    type: 'response.completed',
    response: { id: 'resp_1', object: 'response', status: 'completed', output: [item(FULL)] },
  },
];
export const responsesStream = responsesData.map((d, i) => sse(d.type, { ...d, sequence_number: i }));

/** Gemini `streamGenerateContent?alt=sse`: one candidate chunk per word, the last with finishReason. */
export const geminiStream = WORDS.map((text, i) =>
  sse(undefined, {
    candidates: [
      {
        content: { parts: [{ text }], role: 'model' },
        index: 0,
        ...(i === WORDS.length - 1 ? { finishReason: 'STOP' } : {}),
      },
    ],
  }),
);

export const jsonAnswers: Record<string, unknown> = {
  openai: {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'gpt-4o-mini',
    choices: [
      { index: 0, message: { role: 'assistant', content: FULL, refusal: null }, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 10, total_tokens: 22 },
  },
  'openai-tools': {
    id: 'chatcmpl-2',
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        finish_reason: 'tool_calls',
      },
    ],
  },
  anthropic: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: FULL }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 12, output_tokens: 10 },
  },
  'anthropic-tools': {
    id: 'msg_2',
    type: 'message',
    role: 'assistant',
    content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
    ],
    stop_reason: 'tool_use',
  },
  responses: { id: 'resp_1', object: 'response', status: 'completed', output: [item(FULL)] },
  gemini: {
    candidates: [{ content: { parts: [{ text: FULL }], role: 'model' }, finishReason: 'STOP', index: 0 }],
  },
};

export const streams: Record<string, string[]> = {
  openai: openaiStream,
  anthropic: anthropicStream,
  'anthropic-tools': anthropicToolStream,
  responses: responsesStream,
  gemini: geminiStream,
};
