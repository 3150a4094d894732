import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REFUSAL } from '../../src/faults/kit/llm-answer.js';
import { scrape, startUpstream, waitFor } from '../helpers/index.js';
import {
  anthropicStream,
  FULL,
  geminiStream,
  HALF,
  jsonAnswers,
  openaiStream,
  responsesStream,
} from './llm-fixtures.js';
import { call, dataOf, eventsOf, llmFaultgate, llmUpstream } from './llm-upstream.js';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk untyped JSON answers
type Json = Record<string, any>;

async function json(url: string, fault: string): Promise<Json> {
  const r = await call(url, fault);
  expect(r.error).toBeUndefined();
  expect(r.headers['x-faultgate-injected']).toBe('override/uncooperative');
  return JSON.parse(r.body.toString()) as Json;
}

const jsonEvents = (body: Buffer) => dataOf(body) as { event: string | undefined; data: Json }[];

/** The text a client assembles from a streamed answer, and the stop reason it reports. */
function assembled(body: Buffer): { text: string; stop: unknown } {
  let text = '';
  let stop: unknown;
  for (const { data } of jsonEvents(body)) {
    const choice = data.choices?.[0];
    if (choice) {
      text += choice.delta?.content ?? '';
      stop = choice.finish_reason ?? stop;
    }
    if (data.type === 'content_block_delta' && data.delta.type === 'text_delta') text += data.delta.text;
    if (data.type === 'message_delta') stop = data.delta.stop_reason;
    if (data.type === 'response.output_text.delta') text += data.delta;
    const candidate = data.candidates?.[0];
    if (candidate) {
      text += candidate.content.parts[0].text;
      stop = candidate.finishReason ?? stop;
    }
  }
  return { text, stop };
}

describe('uncooperative on JSON answers', () => {
  it('refuse replaces the answer text and keeps the rest of the body', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const oa = await json(`${fg.url}/v1/openai/json`, 'uncooperative;mode=refuse');
    const original = jsonAnswers.openai as Json;
    expect(oa).toEqual({
      ...original,
      choices: [
        { ...original.choices[0], message: { ...original.choices[0].message, content: DEFAULT_REFUSAL } },
      ],
    });
    const an = await json(`${fg.url}/anthropic/anthropic/json`, 'uncooperative;mode=refuse;message=No way');
    expect(an.content).toEqual([{ type: 'text', text: 'No way' }]);
    expect(an.stop_reason).toBe('end_turn');
    expect(an.usage).toEqual((jsonAnswers.anthropic as Json).usage);
  });

  it('refuse turns tool calls into the refusal', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const oa = await json(`${fg.url}/v1/openai-tools/json`, 'uncooperative');
    expect(oa.choices[0].message).toEqual({ role: 'assistant', content: DEFAULT_REFUSAL });
    expect(oa.choices[0].finish_reason).toBe('stop');
    const an = await json(`${fg.url}/anthropic/anthropic-tools/json`, 'uncooperative');
    expect(an.content).toEqual([{ type: 'text', text: DEFAULT_REFUSAL }]);
    expect(an.stop_reason).toBe('end_turn');
  });

  it.each([
    [
      'openai',
      '/v1/openai/json',
      (b: Json) => [b.choices[0].message.content, b.choices[0].finish_reason],
      'length',
    ],
    ['anthropic', '/anthropic/anthropic/json', (b: Json) => [b.content[0].text, b.stop_reason], 'max_tokens'],
    ['responses', '/v1/responses/json', (b: Json) => [b.output[0].content[0].text, b.status], 'incomplete'],
    [
      'gemini',
      '/v1/gemini/json',
      (b: Json) => [b.candidates[0].content.parts[0].text, b.candidates[0].finishReason],
      'MAX_TOKENS',
    ],
  ])('partial keeps half of the %s answer and reports a length stop', async (_name, path, pick, stop) => {
    const fg = await llmFaultgate(await llmUpstream());
    const body = await json(`${fg.url}${path}`, 'uncooperative;mode=partial');
    expect(pick(body)).toEqual([HALF, stop]);
    expect(HALF.length).toBe(Math.floor(FULL.length / 2));
  });

  it('a JSON body that is not an LLM answer passes through, counted as skipped', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/v1/plain`, 'uncooperative');
    expect(JSON.parse(r.body.toString())).toEqual({ ok: true, data: [1, 2, 3] });
    const m = await scrape(fg.adminUrl);
    expect(
      m.get(
        'faultgate_faults_skipped_total{experiment="override",fault="uncooperative",reason="not an LLM answer"}',
      ),
    ).toBe(1);
  });
});

describe('uncooperative on streamed answers', () => {
  it.each([
    ['openai', '/v1/openai/stream', openaiStream, 'stop'],
    ['anthropic', '/anthropic/anthropic/stream', anthropicStream, 'end_turn'],
    ['responses', '/v1/responses/stream', responsesStream, undefined],
    ['gemini', '/v1/gemini/stream', geminiStream, 'STOP'],
  ])(
    'refuse streams the refusal in the %s deltas; other events keep their bytes',
    async (_n, path, stream, stop) => {
      const fg = await llmFaultgate(await llmUpstream());
      const r = await call(`${fg.url}${path}`, 'uncooperative;mode=refuse;message=I will not do that.');
      expect(r.error).toBeUndefined();
      expect(assembled(r.body)).toEqual({ text: 'I will not do that.', stop });
      const events = eventsOf(r.body);
      expect(events).toHaveLength(stream.length);
      const untouched = (raw: string) =>
        !/"content":"|"text_delta"|output_text|output_item.done|"text":"/.test(raw);
      for (const [i, raw] of stream.entries()) if (untouched(raw)) expect(events[i]).toBe(raw);
    },
  );

  it('refuse turns a streamed Anthropic tool_use block into text', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/anthropic/anthropic-tools/stream`, 'uncooperative');
    expect(assembled(r.body)).toEqual({ text: DEFAULT_REFUSAL, stop: 'end_turn' });
    expect(r.body.toString()).not.toMatch(/tool_use|input_json_delta/);
  });

  it.each([
    ['openai', '/v1/openai/stream', 'length'],
    ['anthropic', '/anthropic/anthropic/stream', 'max_tokens'],
    ['responses', '/v1/responses/stream', undefined],
    ['gemini', '/v1/gemini/stream', 'MAX_TOKENS'],
  ])('partial streams the first half of the %s answer', async (name, path, stop) => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, 'uncooperative;mode=partial');
    expect(r.error).toBeUndefined();
    expect(assembled(r.body)).toEqual({ text: HALF, stop });
    if (name !== 'responses') return;
    const events = jsonEvents(r.body);
    const last = events.at(-1)!;
    expect(last.event).toBe('response.incomplete');
    expect(last.data).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
    expect(last.data.response.output[0].content[0].text).toBe(HALF);
    expect(events.find((e) => e.event === 'response.output_text.done')!.data.text).toBe(HALF);
  });
});

describe('uncooperative stall', () => {
  it('holds a JSON answer for stall_ms', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/v1/openai/json`, 'uncooperative;mode=stall;stall_ms=300');
    expect(r.headMs).toBeGreaterThanOrEqual(290);
    expect(JSON.parse(r.body.toString())).toEqual(jsonAnswers.openai);
  });

  it('sends a stream head at once and holds its first event for stall_ms', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/v1/openai/stream`, 'uncooperative;mode=stall;stall_ms=300');
    expect(r.firstByteMs).toBeGreaterThanOrEqual(290);
    expect(r.body.toString()).toBe(openaiStream.join(''));
    // "At once" without a clock: with a stall longer than the test may run, the head still
    // arrives, and no byte of the body does before the client leaves.
    const ac = new AbortController();
    const res = await request(`${fg.url}/v1/openai/stream`, {
      headers: { 'x-faultgate-fault': 'uncooperative;mode=stall;stall_ms=600000' },
      signal: ac.signal,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    let bytes = 0;
    res.body.on('data', (c: Buffer) => (bytes += c.length));
    res.body.on('error', () => {});
    ac.abort();
    expect(bytes).toBe(0);
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'stall released');
  });

  it('ends the stall when the client leaves', async () => {
    let answered = 0;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jsonAnswers.openai), () => answered++);
    });
    const fg = await llmFaultgate(up);
    // The client leaves once the upstream has answered (faultgate holds the answer), not after a
    // sleep; the stall is longer than the test may run, so only the client leaving can end it.
    const ac = new AbortController();
    const pending = call(`${fg.url}/v1/openai/json`, 'uncooperative;mode=stall;stall_ms=600000', {
      signal: ac.signal,
    });
    await waitFor(() => answered === 1, 5000, 'the upstream to answer');
    ac.abort();
    const r = await pending;
    expect(r.status).toBe(0); // aborted before the head arrived
    expect(r.error).toBeDefined();
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'stall released');
    expect((await scrape(fg.adminUrl)).get('faultgate_active_faults')).toBe(0);
  });
});

describe('uncooperative under random chunk splits', () => {
  it('gives the same client bytes however the upstream splits the stream', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    for (const mode of ['refuse', 'partial']) {
      for (const [kind, path] of Object.entries({
        openai: '/v1',
        anthropic: '/anthropic',
        responses: '/v1',
        gemini: '/v1',
      })) {
        const url = `${fg.url}${path}/${kind}/stream`;
        const whole = await call(url, `uncooperative;mode=${mode}`, { headers: { 'x-split-seed': 'whole' } });
        for (let seed = 1; seed <= 4; seed++) {
          const split = await call(url, `uncooperative;mode=${mode}`, {
            headers: { 'x-split-seed': String(seed) },
          });
          expect(split.body.toString(), `${mode} ${kind} ${seed}`).toBe(whole.body.toString());
        }
      }
    }
  });
});
