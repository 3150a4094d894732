import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/stream/sse-parser.js';
import { withData } from '../../src/stream/sse-transform.js';
import { scrape, startUpstream, waitFor } from '../helpers/index.js';
import { anthropicStream, openaiStream, responsesStream } from './llm-fixtures.js';
import { call, eventsOf, llmFaultgate, llmUpstream } from './llm-upstream.js';

const isData = (raw: string) => !raw.startsWith(':');

/**
 * What the client must receive for `action` with event_probability 1: the upstream's own
 * bytes for every untouched event. The terminal event is each fixture's last one.
 */
function expected(stream: string[], action: string, after: number, errorEvent = ''): string[] {
  const out: string[] = [];
  let n = 0;
  for (const [i, raw] of stream.entries()) {
    const terminal = i === stream.length - 1;
    if (!isData(raw)) {
      out.push(raw);
      continue;
    }
    const affected = n++ >= after;
    if (action === 'no_done') {
      if (!terminal) out.push(raw);
    } else if (affected && (action === 'truncate' || action === 'stall' || action === 'error_event')) {
      if (action === 'error_event') out.push(errorEvent);
      return out;
    } else if (!affected || terminal) out.push(raw);
    else if (action === 'duplicate') out.push(raw, raw);
    else if (action !== 'drop') out.push(raw);
  }
  return out;
}

const errorEvents = {
  openai:
    'data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}\n\n',
  anthropic:
    'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
};

const dialects = [
  { dialect: 'openai', path: '/v1/openai/stream', stream: openaiStream },
  { dialect: 'anthropic', path: '/anthropic/anthropic/stream', stream: anthropicStream },
] as const;

describe.each(dialects)('sse on an $dialect stream', ({ dialect, path, stream }) => {
  it('passes the stream through byte for byte without a fault', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, undefined);
    expect(r.body.toString()).toBe(stream.join(''));
  });

  it.each(['drop', 'duplicate', 'no_done'])('%s: untouched events keep their bytes', async (action) => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, `sse;action=${action};after_events=2`);
    expect(r.status).toBe(200);
    expect(r.error).toBeUndefined();
    expect(r.headers['x-faultgate-injected']).toBe('override/sse');
    expect(eventsOf(r.body)).toEqual(expected(stream, action, 2));
  });

  it('truncate cuts the connection after after_events events: no terminal event, a client error', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, 'sse;action=truncate;after_events=3');
    expect(r.status).toBe(200);
    expect(r.error).toBeDefined();
    expect(eventsOf(r.body)).toEqual(expected(stream, 'truncate', 3));
    expect(r.body.toString()).not.toContain(dialect === 'openai' ? '[DONE]' : 'message_stop');
    const m = await scrape(fg.adminUrl);
    const tool = dialect === 'openai' ? 'llm' : 'claude';
    expect(
      m.get(`faultgate_requests_total{agent="127.0.0.1",tool="${tool}",outcome="failure",injected="true"}`),
    ).toBe(1);
    expect(m.get('faultgate_active_faults')).toBe(0);
  });

  it('error_event writes the dialect mid-stream error, then ends the stream cleanly', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, 'sse;action=error_event;after_events=4');
    expect(r.error).toBeUndefined();
    const events = eventsOf(r.body);
    expect(events).toEqual(expected(stream, 'error_event', 4, errorEvents[dialect]));
    expect(events.at(-1)).toBe(errorEvents[dialect]);
  });

  it('corrupt makes affected data invalid JSON and keeps the other fields and events', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}${path}`, 'sse;action=corrupt;after_events=1');
    const events = eventsOf(r.body);
    expect(events).toHaveLength(stream.length);
    expect(events[0]).toBe(stream[0]);
    expect(events.at(-1)).toBe(stream.at(-1));
    for (const [i, raw] of events.entries()) {
      if (i === 0 || i === events.length - 1 || !isData(raw)) {
        expect(raw).toBe(stream[i]);
        continue;
      }
      expect(raw).not.toBe(stream[i]);
      const fields = (text: string) => text.split('\n').filter((l) => !l.startsWith('data:'));
      expect(fields(raw)).toEqual(fields(stream[i]!)); // the event: line (anthropic) stays
      const data = raw.slice(raw.indexOf('data: ') + 6, -2);
      expect(() => JSON.parse(data)).toThrow();
    }
  });

  it('delay waits delay_ms before each affected event and changes no byte', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const affected = stream.filter(isData).length - 1 - 8; // the terminal event is not delayed
    const r = await call(`${fg.url}${path}`, 'sse;action=delay;after_events=8;delay_ms=60');
    expect(r.body.toString()).toBe(stream.join(''));
    expect(r.ms).toBeGreaterThanOrEqual(affected * 60 - 10);
  });

  it('stall sends nothing after after_events events and holds the connection until the client leaves', async () => {
    const up = await llmUpstream();
    const fg = await llmFaultgate(up);
    const r = await call(`${fg.url}${path}`, 'sse;action=stall;after_events=2', { abortAfterMs: 400 });
    expect(r.error).toBeDefined();
    expect(r.ms).toBeGreaterThanOrEqual(390);
    expect(eventsOf(r.body)).toEqual(expected(stream, 'stall', 2));
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'stall released');
    expect((await scrape(fg.adminUrl)).get('faultgate_active_faults')).toBe(0);
  });
});

describe('sse decisions and dialects', () => {
  it('a stream ended early counts as a failure and cancels an upstream that goes on', async () => {
    let upstreamClosed = false;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const timer = setInterval(
        () => res.write(`data: {"choices":[{"delta":{"content":"${n++}"}}]}\n\n`),
        10,
      );
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    const fg = await llmFaultgate(up);
    const r = await call(`${fg.url}/v1/endless`, 'sse;action=error_event;after_events=3');
    expect(r.error).toBeUndefined();
    expect(eventsOf(r.body)).toHaveLength(4);
    expect(eventsOf(r.body)[3]).toBe(errorEvents.openai);
    await waitFor(() => upstreamClosed, 5000, 'upstream request cancelled');
    const m = await scrape(fg.adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="llm",outcome="failure",injected="true"}'),
    ).toBe(1);
    expect(m.get('faultgate_active_faults')).toBe(0);
  });

  it('event_probability affects a seeded share of the events after after_events', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(
      `${fg.url}/v1/openai/stream`,
      'sse;action=drop;after_events=1;event_probability=0.5',
    );
    const events = eventsOf(r.body);
    // A subsequence of the upstream's events, each with its exact bytes.
    let j = 0;
    for (const raw of events) {
      while (j < openaiStream.length && openaiStream[j] !== raw) j++;
      expect(j).toBeLessThan(openaiStream.length);
      j++;
    }
    expect(events[0]).toBe(openaiStream[0]);
    expect(events.at(-1)).toBe('data: [DONE]\n\n');
    const candidates = openaiStream.filter(isData).length - 2;
    const kept = events.filter(isData).length - 2;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(candidates);
  });

  it('a response that is not an event stream passes through and is counted as skipped', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/v1/plain`, 'sse;action=truncate');
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.body.toString())).toEqual({ ok: true, data: [1, 2, 3] });
    expect(r.headers['x-faultgate-injected']).toBeUndefined();
    const m = await scrape(fg.adminUrl);
    expect(
      m.get('faultgate_faults_skipped_total{experiment="override",fault="sse",reason="not an event stream"}'),
    ).toBe(1);
  });

  it('Responses API: no_done omits response.completed; error_event writes its error event', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const a = await call(`${fg.url}/v1/responses/stream`, 'sse;action=no_done');
    expect(eventsOf(a.body)).toEqual(responsesStream.slice(0, -1));
    const b = await call(`${fg.url}/v1/responses/stream`, 'sse;action=error_event;after_events=5');
    const events = eventsOf(b.body);
    expect(events.slice(0, 5)).toEqual(responsesStream.slice(0, 5));
    expect(events[5]).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(events[5]!.split('data: ')[1]!)).toMatchObject({
      type: 'error',
      code: 'server_error',
      sequence_number: 5,
    });
  });

  it('a tool without a format gets the error event of the API its stream speaks', async () => {
    const fg = await llmFaultgate(await llmUpstream());
    const r = await call(`${fg.url}/raw/anthropic/stream`, 'sse;action=error_event;after_events=2');
    expect(eventsOf(r.body).at(-1)).toBe(errorEvents.anthropic);
    const f = await call(
      `${fg.url}/raw/anthropic/stream`,
      'sse;action=error_event;after_events=2;format=openai',
    );
    expect(eventsOf(f.body).at(-1)).toBe(errorEvents.openai);
  });

  it('random upstream chunk splits never change what the client receives', async () => {
    const up = await llmUpstream();
    // Two instances with one seed: the k-th request of each draws the same decisions.
    const whole = await llmFaultgate(up, 99);
    const split = await llmFaultgate(up, 99);
    const actions = [
      'drop',
      'duplicate',
      'corrupt',
      'truncate',
      'error_event',
      'no_done',
      'delay;delay_ms=1',
    ];
    for (const action of actions) {
      for (let trial = 0; trial < 6; trial++) {
        const path = trial % 2 === 0 ? '/v1/openai/stream' : '/anthropic/anthropic/stream';
        const fault = `sse;action=${action};after_events=1;event_probability=0.5`;
        const a = await call(`${whole.url}${path}`, fault, { headers: { 'x-split-seed': 'whole' } });
        const b = await call(`${split.url}${path}`, fault, {
          headers: { 'x-split-seed': String(trial * 7919 + 1) },
        });
        expect(b.body.toString(), `${action} trial ${trial}`).toBe(a.body.toString());
        expect(b.error === undefined, `${action} trial ${trial}`).toBe(a.error === undefined);
      }
    }
  });
});

describe('withData', () => {
  it('replaces only the data, keeping other fields, comments, CRLF line breaks and the BOM', () => {
    const raw = '\uFEFFid: 7\r\nevent: x\r\ndata: a\r\ndata: b\r\n: note\r\n\r\n';
    const [event] = SseParser.parseAll(Buffer.from(raw));
    expect(withData(event!, 'new\nlines', 'y').toString()).toBe(
      '\uFEFFid: 7\r\nevent: y\r\ndata: new\r\ndata: lines\r\n: note\r\n\r\n',
    );
    expect(withData(event!, 'z').toString()).toBe('\uFEFFid: 7\r\nevent: x\r\ndata: z\r\n: note\r\n\r\n');
  });
});
