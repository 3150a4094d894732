import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { goDuration, rfc3339 } from '../../src/faults/kit/rate-limit-answer.js';
import { BoundedMap, TokenBuckets } from '../../src/faults/kit/rate-limit-bucket.js';
import { configYaml, scrape, startFaultgate, startUpstream } from '../helpers/index.js';

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

const OPENAI_USAGE = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 40, completion_tokens: 20, total_tokens: 60 },
});

/** A real upstream answering OpenAI-style JSON with usage, and faultgate in front of it. */
async function setup(extra: string) {
  let calls = 0;
  const up = await startUpstream((req, res) => {
    calls++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(OPENAI_USAGE);
  });
  const fg = await startFaultgate(configYaml({ upstream: up.url }, `${TOOLS}${extra}`));
  return { fg, calls: () => calls };
}

const overrides = (seed = 7) => `chaos: { header_overrides: true, seed: ${seed} }\n`;

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

const injected = (agent: string, tool: string, experiment: string) =>
  `faultgate_faults_injected_total{agent="${agent}",tool="${tool}",experiment="${experiment}",fault="rate_limit"}`;

describe('rate_limit on the wire, per dialect', () => {
  const fault = { 'x-faultgate-fault': 'rate_limit;retry_after_s=2' };

  it('openai: x-ratelimit-* headers, Retry-After, a requests/rate_limit_exceeded body', async () => {
    const { fg, calls } = await setup(overrides());
    const r = await get(`${fg.fg.listeners[0]!.url}/oa/v1/chat/completions`, fault);
    expect(r.status).toBe(429);
    expect(r.headers).toMatchObject({
      'retry-after': '2',
      'retry-after-ms': '2000',
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '2s',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-tokens': '150000',
      'x-ratelimit-reset-tokens': '0s',
      'content-type': 'application/json',
      'x-faultgate-injected': 'override/rate_limit',
    });
    expect(r.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    expect(JSON.parse(r.text)).toEqual({
      error: {
        message: expect.stringMatching(
          /^Rate limit reached on requests .*Limit 60, Used 60, Requested 1\. Please try again in 2s\./,
        ),
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(calls()).toBe(0);
  });

  it('anthropic: anthropic-ratelimit-* headers with RFC 3339 resets and a rate_limit_error body', async () => {
    const { fg, calls } = await setup(overrides());
    const before = Date.now();
    const r = await get(`${fg.url}/an/v1/messages`, fault);
    expect(r.status).toBe(429);
    expect(r.headers).toMatchObject({
      'retry-after': '2',
      'retry-after-ms': '2000',
      'anthropic-ratelimit-requests-limit': '60',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-tokens-limit': '150000',
      'anthropic-ratelimit-tokens-remaining': '150000',
    });
    expect(r.headers['request-id']).toMatch(/^req_/);
    const reset = String(r.headers['anthropic-ratelimit-requests-reset']);
    expect(reset).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(reset)).toBeGreaterThanOrEqual(before + 2000 - 1000);
    expect(Date.parse(reset)).toBeLessThanOrEqual(Date.now() + 2000 + 1000);
    expect(JSON.parse(r.text)).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.stringContaining('of 60 requests per minute') },
    });
    expect(calls()).toBe(0);
  });

  it('anthropic 529 is an overload: overloaded_error, Retry-After, no account limit headers', async () => {
    const { fg } = await setup(overrides());
    const r = await get(`${fg.url}/an/v1/messages`, {
      'x-faultgate-fault': 'rate_limit;status=529;retry_after_s=3',
    });
    expect(r.status).toBe(529);
    expect(r.headers['retry-after']).toBe('3');
    expect(r.headers['retry-after-ms']).toBe('3000');
    expect(r.headers['anthropic-ratelimit-requests-limit']).toBeUndefined();
    expect(JSON.parse(r.text)).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
  });

  it('gemini: RESOURCE_EXHAUSTED with a RetryInfo detail', async () => {
    const { fg } = await setup(overrides());
    const r = await get(`${fg.url}/ge/v1beta/models/gemini-2.0-flash:generateContent`, fault);
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('2');
    expect(JSON.parse(r.text)).toEqual({
      error: {
        code: 429,
        message: expect.any(String),
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }],
      },
    });
  });

  it("mcp: a JSON-RPC error echoing the request's id; json and text bodies", async () => {
    const { fg, calls } = await setup(overrides());
    const res = await request(`${fg.url}/mcp`, {
      method: 'POST',
      headers: { ...fault, 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 41,
        method: 'tools/call',
        params: { name: 'x', arguments: {} },
      }),
    });
    expect(res.statusCode).toBe(429);
    expect(res.headers).toMatchObject({
      'ratelimit-limit': '60',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '2',
    });
    expect(await res.body.json()).toEqual({
      jsonrpc: '2.0',
      id: 41,
      error: { code: -32002, message: expect.any(String) },
    });
    const js = await get(`${fg.url}/js/x`, fault);
    expect(js.status).toBe(429);
    expect(js.headers['retry-after-ms']).toBe('2000');
    expect(JSON.parse(js.text)).toEqual({
      error: { status: 429, type: 'rate_limit', message: expect.any(String) },
    });
    const tx = await get(`${fg.url}/tx/x`, fault);
    expect(tx.status).toBe(429);
    expect(tx.headers['content-type']).toMatch(/^text\/plain/);
    expect(tx.text).toMatch(/^Rate limit reached.*\n$/);
    expect(calls()).toBe(0);
  });

  it('headers from the config add to and override the dialect headers', async () => {
    const { fg } = await setup(`experiments:
  - name: rl
    type: rate_limit
    probability: 1
    target: { tools: [oa] }
    config: { retry_after_s: 0.25, headers: { x-ratelimit-limit-requests: "500", x-extra: "yes" } }
`);
    const r = await get(`${fg.url}/oa/v1/chat/completions`);
    expect(r.status).toBe(429);
    expect(r.headers).toMatchObject({
      'retry-after': '1',
      'retry-after-ms': '250',
      'x-ratelimit-limit-requests': '500',
      'x-extra': 'yes',
      'x-faultgate-injected': 'rl/rate_limit',
    });
  });

  it('retry_after_s [min, max] is drawn within bounds, the same for the same seed', async () => {
    const draw = async () => {
      const { fg } = await setup(overrides(11));
      const out: number[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await get(`${fg.url}/oa/x`, { 'x-faultgate-fault': 'rate_limit;retry_after_s=1,3' });
        const ms = Number(r.headers['retry-after-ms']);
        expect(r.headers['retry-after']).toBe(String(Math.ceil(ms / 1000)));
        expect(r.headers['x-ratelimit-reset-requests']).toBe(goDuration(ms));
        out.push(ms);
      }
      return out;
    };
    const a = await draw();
    for (const ms of a) {
      expect(ms).toBeGreaterThanOrEqual(1000);
      expect(ms).toBeLessThanOrEqual(3000);
    }
    expect(new Set(a).size).toBeGreaterThan(40);
    expect(await draw()).toEqual(a);
  });
});

const quota = (q: string, per = '') => `chaos: { seed: 3 }
experiments:
  - name: rpm
    type: rate_limit
    target: { tools: [oa] }
    config: { quota: { ${q}${per} } }
`;

describe('rate_limit quota: a real token bucket', () => {
  it('3 requests per 1 s: exactly the 4th of a burst gets 429, and after Retry-After one passes again', async () => {
    const { fg, calls } = await setup(quota('requests: 3, window_s: 1'));
    const burst = [];
    for (let i = 0; i < 4; i++)
      burst.push(await get(`${fg.url}/oa/v1/chat/completions`, { 'x-agent-id': 'a' }));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(burst.slice(0, 3).every((r) => r.headers['x-faultgate-injected'] === undefined)).toBe(true);
    const limited = burst[3]!;
    const retryMs = Number(limited.headers['retry-after-ms']);
    // One token comes back every 333 ms; the burst took some of that already.
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(334);
    expect(limited.headers).toMatchObject({
      'retry-after': '1',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
      'x-faultgate-injected': 'rpm/rate_limit',
    });
    expect(limited.headers['x-ratelimit-limit-tokens']).toBeUndefined();
    expect(JSON.parse(limited.text).error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(calls()).toBe(3);
    await sleep(retryMs + 20);
    expect((await get(`${fg.url}/oa/x`, { 'x-agent-id': 'a' })).status).toBe(200);
    const m = await scrape(fg.adminUrl);
    expect(m.get(injected('a', 'oa', 'rpm'))).toBe(1);
    expect(m.get('faultgate_requests_total{agent="a",tool="oa",outcome="success",injected="false"}')).toBe(4);
    expect(fg.logs.filter((l) => l.msg === 'fault injected')).toHaveLength(1);
  });

  it('per agent: each agent has its own bucket', async () => {
    const { fg } = await setup(quota('requests: 1, window_s: 60'));
    const status = async (agent: string, tenant: string) =>
      (await get(`${fg.url}/oa/x`, { 'x-agent-id': agent, 'x-tenant-id': tenant })).status;
    expect(await status('a', 't1')).toBe(200);
    expect(await status('a', 't1')).toBe(429);
    expect(await status('b', 't1')).toBe(200);
    expect(await status('b', 't2')).toBe(429);
  });

  it('per tenant: the agents of a tenant share one bucket', async () => {
    const { fg } = await setup(quota('requests: 2, window_s: 60', ', per: tenant'));
    const status = async (agent: string, tenant: string) =>
      (await get(`${fg.url}/oa/x`, { 'x-agent-id': agent, 'x-tenant-id': tenant })).status;
    expect(await status('a', 't1')).toBe(200);
    expect(await status('b', 't1')).toBe(200);
    const third = await get(`${fg.url}/oa/x`, { 'x-agent-id': 'c', 'x-tenant-id': 't1' });
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBe(30); // one token per 30 s
    expect(await status('a', 't2')).toBe(200);
    const m = await scrape(fg.adminUrl);
    expect(m.get(injected('c', 'oa', 'rpm'))).toBe(1);
    expect(m.get(injected('a', 'oa', 'rpm'))).toBeUndefined();
  });

  it('tokens: usage of responses drains a second bucket; the next request waits out the debt', async () => {
    const { fg, calls } = await setup(quota('tokens: 100, window_s: 2'));
    const h = { 'x-agent-id': 'a' };
    expect((await get(`${fg.url}/oa/x`, h)).status).toBe(200); // 100 -> 40
    const second = await get(`${fg.url}/oa/x`, h); // 40 -> -20
    expect(second.status).toBe(200);
    expect(second.text).toBe(OPENAI_USAGE); // observed, not changed
    const third = await get(`${fg.url}/oa/x`, h);
    expect(third.status).toBe(429);
    const retryMs = Number(third.headers['retry-after-ms']);
    // 21 tokens at 0.05 per ms, less what refilled while the requests ran.
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(420);
    expect(third.headers).toMatchObject({
      'x-ratelimit-limit-tokens': '100',
      'x-ratelimit-remaining-tokens': '0',
    });
    expect(third.headers['x-ratelimit-limit-requests']).toBeUndefined();
    expect(JSON.parse(third.text).error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    expect(calls()).toBe(2);
    await sleep(retryMs + 20);
    expect((await get(`${fg.url}/oa/x`, h)).status).toBe(200);
    const m = await scrape(fg.adminUrl);
    expect(m.get(injected('a', 'oa', 'rpm'))).toBe(1);
  });
});

describe('quota building blocks', () => {
  it('a token bucket refills continuously and reports its wait and reset times', () => {
    const b = new TokenBuckets(3, 1000);
    const bucket = b.refill('k', 0);
    bucket.level -= 3;
    expect(b.waitMs(b.refill('k', 0))).toBeCloseTo(1000 / 3);
    expect(b.waitMs(b.refill('k', 334))).toBe(0);
    expect(b.resetMs(b.refill('k', 500))).toBeCloseTo(500);
    expect(b.refill('k', 10_000).level).toBe(3); // never above capacity
    b.charge('k', 10_000, 5);
    expect(b.remaining(b.refill('k', 10_000))).toBe(0);
    expect(b.waitMs(b.refill('k', 10_000))).toBeCloseTo(1000);
  });

  it('keys are bounded: the least recently used one is forgotten', () => {
    const map = new BoundedMap<number>(3);
    for (const k of ['a', 'b', 'c']) map.get(k, () => 1);
    map.get('a', () => 2); // touch a: b is now the oldest
    map.get('d', () => 1);
    expect(map.size).toBe(3);
    expect(map.get('a', () => 9)).toBe(1);
    expect(map.get('b', () => 9)).toBe(9);
  });

  it('formats durations like Go and times as RFC 3339', () => {
    expect(['0', '20', '1000', '17280', '360000', '3600000'].map((ms) => goDuration(Number(ms)))).toEqual([
      '0s',
      '20ms',
      '1s',
      '17.28s',
      '6m0s',
      '1h0m0s',
    ]);
    expect(rfc3339(Date.UTC(2025, 0, 2, 3, 4, 5, 1))).toBe('2025-01-02T03:04:06Z');
  });
});
