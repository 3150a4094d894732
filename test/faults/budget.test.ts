import { gunzipSync } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { costUsd, priceFor } from '../../src/faults/budget.js';
import { pathModel, requestModel, usageObserver, usageOf } from '../../src/faults/kit/usage.js';
import { configYaml, readAll, scrape, startFaultgate, startUpstream } from '../helpers/index.js';

/** Upstream bodies as they look on the wire, each reporting usage in its API's own way. */
const BODIES = {
  openaiJson:
    '{"object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":40,"completion_tokens":20,"total_tokens":60}}',
  openaiStream: [
    'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n',
    'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}\n\n',
    'data: {"object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}\n\n',
    'data: [DONE]\n\n',
  ],
  anthropicStream: [
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-20250514","usage":{"input_tokens":25,"output_tokens":1}}}\n\n',
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n',
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":25}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ],
  responsesStream: [
    'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","model":"gpt-4o","usage":null}}\n\n',
    'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n',
    'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","model":"gpt-4o","usage":{"input_tokens":30,"output_tokens":20,"total_tokens":50}}}\n\n',
  ],
  geminiJson:
    '{"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":15,"thoughtsTokenCount":5,"totalTokenCount":50},"modelVersion":"gemini-2.0-flash"}',
  noModel: '{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150}}',
  mystery: '{"model":"mystery-1","usage":{"prompt_tokens":40,"completion_tokens":20,"total_tokens":60}}',
};

function reply(res: ServerResponse, path: string): void {
  const json = (body: string) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };
  const stream = (events: string[]) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // One write per event, some split mid-line, so the observer parses across chunks.
    for (const e of events) {
      res.write(e.slice(0, 7));
      res.write(e.slice(7));
    }
    res.end();
  };
  if (path.endsWith('/openai-stream')) stream(BODIES.openaiStream);
  else if (path.endsWith('/anthropic-stream')) stream(BODIES.anthropicStream);
  else if (path.endsWith('/responses-stream')) stream(BODIES.responsesStream);
  else if (path.endsWith(':generateContent')) json(BODIES.geminiJson);
  else if (path.endsWith('/nomodel')) json(BODIES.noModel);
  else if (path.endsWith('/mystery')) json(BODIES.mystery);
  else if (path.endsWith('/gzip')) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(gzipSync(BODIES.openaiJson));
  } else json(BODIES.openaiJson);
}

const TOOLS = `agents: { from: [header:x-agent-id], default: anon }
tenants: { from: [header:x-tenant-id], default: none }
tools:
  - { name: oa, match: { path: "/oa/**" }, format: openai }
  - { name: an, match: { path: "/an/**" }, format: anthropic }
  - { name: ge, match: { path: "/ge/**" }, format: gemini }
  - { name: mcp, match: { path: "/mcp" }, format: mcp }
  - { name: js, match: { path: "/js/**" }, format: json }
  - { name: tx, match: { path: "/tx/**" }, format: text }
`;

async function setup(extra: string) {
  let calls = 0;
  const up = await startUpstream((req, res) => {
    calls++;
    req.resume();
    req.on('end', () => reply(res, req.url ?? '/'));
  });
  const fg = await startFaultgate(configYaml({ upstream: up.url }, `${TOOLS}${extra}`));
  return { fg, calls: () => calls };
}

const budget = (config: string, tools = '["*"]') => `chaos: { seed: 5 }
experiments:
  - name: spend
    type: budget
    target: { tools: ${tools} }
    config: { ${config} }
`;

async function call(url: string, agent = 'a', init: { body?: string; tenant?: string } = {}) {
  const headers: Record<string, string> = { 'x-agent-id': agent };
  if (init.tenant) headers['x-tenant-id'] = init.tenant;
  if (init.body) headers['content-type'] = 'application/json';
  const res = await request(url, { method: init.body ? 'POST' : 'GET', headers, body: init.body });
  const raw = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, text: raw.toString('utf8'), raw };
}

const injected = (agent: string, tool: string) =>
  `faultgate_faults_injected_total{agent="${agent}",tool="${tool}",experiment="spend",fault="budget"}`;

describe('budget by calls', () => {
  it('answers insufficient_quota once the calls are used, and the window starts over', async () => {
    const { fg, calls } = await setup(budget('calls: 2, window_s: 0.5'));
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await call(`${fg.url}/oa/v1/chat`)).status);
    const spent = await call(`${fg.url}/oa/v1/chat`);
    expect([...statuses, spent.status]).toEqual([200, 200, 429]);
    const retryMs = Number(spent.headers['retry-after-ms']);
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(500);
    expect(spent.headers['retry-after']).toBe('1');
    expect(spent.headers['x-faultgate-injected']).toBe('spend/budget');
    expect(JSON.parse(spent.text)).toEqual({
      error: {
        message: expect.stringMatching(/^You exceeded your current quota/),
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    });
    expect((await call(`${fg.url}/oa/v1/chat`, 'b')).status).toBe(200); // per agent
    await sleep(retryMs + 30);
    expect((await call(`${fg.url}/oa/v1/chat`)).status).toBe(200);
    expect(calls()).toBe(4);
    const m = await scrape(fg.adminUrl);
    expect(m.get(injected('a', 'oa'))).toBe(1);
    expect(m.get(injected('b', 'oa'))).toBeUndefined();
    expect(fg.logs.filter((l) => l.msg === 'fault injected')).toHaveLength(1);
  });

  it('per tenant: the agents of a tenant share one budget', async () => {
    const { fg } = await setup(budget('calls: 1, per: tenant'));
    expect((await call(`${fg.url}/oa/x`, 'a', { tenant: 't1' })).status).toBe(200);
    const second = await call(`${fg.url}/oa/x`, 'b', { tenant: 't1' });
    expect(second.status).toBe(429);
    expect(Number(second.headers['retry-after'])).toBeGreaterThan(3590); // window_s defaults to 3600
    expect((await call(`${fg.url}/oa/x`, 'a', { tenant: 't2' })).status).toBe(200);
  });

  it("speaks each dialect's quota error", async () => {
    const { fg, calls } = await setup('chaos: { header_overrides: true }\n');
    const spend = async (path: string, agent: string, body?: string) => {
      const h = { 'x-agent-id': agent, 'x-faultgate-fault': 'budget;calls=1' };
      const init = body
        ? { method: 'POST' as const, body, headers: { ...h, 'content-type': 'application/json' } }
        : { headers: h };
      await (await request(`${fg.url}${path}`, init)).body.dump();
      const res = await request(`${fg.url}${path}`, init);
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    };
    const an = await spend('/an/v1/messages', 'an');
    expect(an.status).toBe(400);
    expect(an.headers['request-id']).toMatch(/^req_/);
    expect(JSON.parse(an.body)).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: expect.stringMatching(
          /^You have reached your specified API usage limits\. You will regain access on \d{4}-\d\d-\d\d at \d\d:\d\d UTC\.$/,
        ),
      },
    });
    const ge = await spend('/ge/v1beta/models/gemini-2.0-flash:generateContent', 'ge');
    expect(ge.status).toBe(429);
    expect(JSON.parse(ge.body).error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    const rpc = JSON.stringify({ jsonrpc: '2.0', id: 'call-9', method: 'tools/call', params: { name: 't' } });
    const mcp = await spend('/mcp', 'mcp', rpc);
    expect(mcp.status).toBe(429);
    expect(JSON.parse(mcp.body)).toEqual({
      jsonrpc: '2.0',
      id: 'call-9',
      error: { code: -32002, message: expect.any(String) },
    });
    const js = await spend('/js/x', 'js');
    expect(JSON.parse(js.body)).toEqual({
      error: { status: 429, type: 'quota', message: expect.any(String) },
    });
    const tx = await spend('/tx/x', 'tx');
    expect([tx.status, tx.headers['content-type']]).toEqual([429, 'text/plain; charset=utf-8']);
    for (const r of [an, ge, mcp, js, tx]) expect(Number(r.headers['retry-after'])).toBeGreaterThan(3590);
    expect(calls()).toBe(5);
  });
});

describe('budget by tokens', () => {
  // Every source reports 50 or 60 tokens a call: two calls pass a budget of 100, the third does not.
  it.each([
    ['an OpenAI JSON body', '/oa/v1/chat/completions'],
    ['a streamed OpenAI chat (include_usage)', '/oa/v1/openai-stream'],
    ['a streamed Anthropic message', '/an/v1/anthropic-stream'],
    ['a streamed Responses API answer', '/oa/v1/responses-stream'],
    ['a Gemini JSON body', '/ge/v1beta/models/gemini-2.0-flash:generateContent'],
    ['a gzip-encoded JSON body', '/oa/v1/gzip'],
  ])('counts the usage of %s', async (_name, path) => {
    const { fg, calls } = await setup(budget('tokens: 100, window_s: 60'));
    const first = await call(`${fg.url}${path}`);
    const second = await call(`${fg.url}${path}`);
    const third = await call(`${fg.url}${path}`);
    expect([first.status, second.status, third.status]).toEqual([
      200,
      200,
      path.startsWith('/an') ? 400 : 429,
    ]);
    // The observer passes the body through unchanged: a gzip body arrives still compressed
    // (the observer decodes its own copy to count the usage).
    if (path.endsWith('openai-stream')) expect(first.text).toBe(BODIES.openaiStream.join(''));
    if (path.endsWith('anthropic-stream')) expect(first.text).toBe(BODIES.anthropicStream.join(''));
    if (path.endsWith('/gzip')) {
      expect(first.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(first.raw).toString()).toBe(BODIES.openaiJson);
    }
    expect(first.headers['x-faultgate-injected']).toBeUndefined();
    expect(calls()).toBe(2);
    expect((await scrape(fg.adminUrl)).get(injected('a', path.slice(1, 3)))).toBe(1);
  });
});

describe('budget by cost_usd', () => {
  const prices =
    'cost_usd: 0.001, prices: { "gpt-4o": { input: 2.5, output: 10 }, "*": { input: 100, output: 100 } }';

  it('prices the response model (a dated snapshot pays its base price), else "*"', async () => {
    const { fg } = await setup(budget(prices));
    // gpt-4o-2024-08-06: 40 x 2.5 + 20 x 10 = 300 micro-dollars a call; the 5th call finds 1200 spent.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(`${fg.url}/oa/v1/chat`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    // mystery-1 pays "*": 60 x 100 = 6000 micro-dollars, over budget after one call.
    expect((await call(`${fg.url}/oa/v1/mystery`, 'b')).status).toBe(200);
    expect((await call(`${fg.url}/oa/v1/mystery`, 'b')).status).toBe(429);
  });

  it("falls back to the request body's model when the response names none", async () => {
    const { fg } = await setup(budget(prices));
    const body = JSON.stringify({ model: 'gpt-4o', messages: [] });
    // gpt-4o: 100 x 2.5 + 50 x 10 = 750 micro-dollars (at the "*" price one call would exhaust it).
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(`${fg.url}/oa/v1/nomodel`, 'a', { body })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('prices: exact key, dated snapshot, longest prefix, "*", Gemini paths', () => {
    const p = {
      'gpt-4o': { input: 1, output: 2 },
      'gpt-4o-mini': { input: 3, output: 4 },
      '*': { input: 5, output: 6 },
    };
    expect(priceFor(p, 'gpt-4o')).toBe(p['gpt-4o']);
    expect(priceFor(p, 'gpt-4o-2024-08-06')).toBe(p['gpt-4o']);
    expect(priceFor(p, 'gpt-4o-mini-2024-07-18')).toBe(p['gpt-4o-mini']);
    expect(priceFor(p, 'gpt-4')).toBe(p['*']);
    expect(priceFor({ 'gemini-2.0-flash': p['gpt-4o'] }, 'models/gemini-2.0-flash')).toBe(p['gpt-4o']);
    expect(priceFor({ x: p['gpt-4o'] }, undefined)).toBeUndefined();
    const usage = { inputTokens: 1_000_000, outputTokens: 500_000, totalTokens: 1_500_000, model: undefined };
    expect(costUsd({ input: 2.5, output: 10 }, usage)).toBe(7.5);
    expect(pathModel('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse')).toBe(
      'gemini-2.0-flash',
    );
    expect(requestModel(Buffer.from('{"model":"claude-opus-4","max_tokens":5}'))).toBe('claude-opus-4');
    expect(requestModel(Buffer.from('not json "model"'))).toBeUndefined();
  });
});

/** A seeded LCG for random chunk splits (tests never use Math.random). */
function splitter(seed: number) {
  let s = seed >>> 0;
  return (max: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + (s % max);
  };
}

async function observe(body: Buffer, sseBody: boolean, seed: number, maxBodyBytes = 1 << 20) {
  const next = splitter(seed);
  const seen: unknown[] = [];
  const skips: string[] = [];
  const t = usageObserver({
    sse: sseBody,
    maxBodyBytes,
    onSkip: (r) => skips.push(r),
    onUsage: (u) => seen.push(u),
  });
  const out = readAll(t);
  for (let i = 0; i < body.length; ) {
    const n = next(40);
    t.write(body.subarray(i, i + n));
    i += n;
  }
  t.end();
  return { bytes: await out, seen, skips };
}

describe('usage extraction', () => {
  const cases: [string, string, boolean, [number, number, number, string | undefined]][] = [
    ['openai json', BODIES.openaiJson, false, [40, 20, 60, 'gpt-4o-2024-08-06']],
    ['openai stream', BODIES.openaiStream.join(''), true, [20, 30, 50, 'gpt-4o']],
    ['anthropic stream', BODIES.anthropicStream.join(''), true, [25, 25, 50, 'claude-sonnet-4-20250514']],
    ['responses stream', BODIES.responsesStream.join(''), true, [30, 20, 50, 'gpt-4o']],
    ['gemini json (thoughts count as output)', BODIES.geminiJson, false, [30, 20, 50, 'gemini-2.0-flash']],
    [
      'anthropic json (cache tokens count as input)',
      JSON.stringify({
        model: 'claude',
        usage: { input_tokens: 5, cache_read_input_tokens: 10, output_tokens: 7 },
      }),
      false,
      [15, 7, 22, 'claude'],
    ],
    [
      'a gemini array of chunks (latest wins)',
      JSON.stringify([
        { usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } },
        { usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 } },
      ]),
      false,
      [3, 4, 7, undefined],
    ],
  ];

  it.each(cases)(
    '%s: bytes unchanged under random chunk splits, usage found',
    async (_n, body, isSse, [i, o, t, model]) => {
      const expected = { inputTokens: i, outputTokens: o, totalTokens: t, model };
      expect(usageOf(Buffer.from(body), isSse)).toEqual(expected);
      for (let seed = 1; seed <= 20; seed++) {
        const r = await observe(Buffer.from(body), isSse, seed);
        expect(r.bytes.toString()).toBe(body);
        expect(r.seen).toEqual([expected]);
      }
    },
  );

  it('forwards each chunk at once, reports nothing without usage, and skips JSON over the limit', async () => {
    const seen: unknown[] = [];
    const t = usageObserver({
      sse: true,
      maxBodyBytes: 1024,
      onSkip: () => {},
      onUsage: (u) => seen.push(u),
    });
    const first = new Promise<Buffer>((resolve) => t.once('data', resolve));
    t.write(Buffer.from('data: {"partial'));
    expect((await first).toString()).toBe('data: {"partial'); // no event boundary needed
    t.end('"}\n\n');
    await readAll(t);
    expect(seen).toEqual([]);
    const big = await observe(Buffer.from(BODIES.openaiJson), false, 3, 100);
    expect(big.seen).toEqual([]);
    expect(big.skips).toEqual(['body over max_body_bytes']);
    expect(big.bytes.toString()).toBe(BODIES.openaiJson);
  });
});
