import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

/** The outcome of one raw node:http request: a response, or the socket error code. */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status?: number; body?: string; error?: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, ms: Date.now() - started }));
      res.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ status: res.statusCode, body, error: e.code ?? e.message, ms: Date.now() - started }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ error: e.code ?? e.message, ms: Date.now() - started }),
    );
    req.end();
  });
}

async function withOverrides(extra = '') {
  let calls = 0;
  const up = await startUpstream((req, res) => {
    calls++;
    if (req.url?.endsWith('/chunks')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      setTimeout(() => res.write('b'), 30);
      setTimeout(() => res.end('c'), 60);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"data":"');
    res.end(`${'x'.repeat(990)}"}`);
  });
  const fg = await startFaultgate(
    configYaml(
      { upstream: up.url },
      `chaos: { header_overrides: true, seed: 7 }\ntools:\n  - name: llm\n    match: { path: "/v1/**" }\n    format: openai\n  - name: claude\n    match: { path: "/anthropic/**" }\n    format: anthropic\n${extra}`,
    ),
  );
  return { fg, calls: () => calls };
}

describe('request-phase faults', () => {
  it('error answers in the tool dialect without calling the upstream', async () => {
    const { fg, calls } = await withOverrides();
    const oa = await request(`${fg.url}/v1/chat`, {
      headers: { 'x-faultgate-fault': 'error;status=503;should_retry=false' },
    });
    expect(oa.statusCode).toBe(503);
    expect(oa.headers['x-should-retry']).toBe('false');
    expect(oa.headers['x-faultgate-injected']).toBe('override/error');
    expect(oa.headers['x-request-id']).toMatch(/^req_/);
    expect(await oa.body.json()).toEqual({
      error: { message: expect.any(String), type: 'server_error', param: null, code: 'server_is_overloaded' },
    });
    const an = await request(`${fg.url}/anthropic/messages`, {
      headers: { 'x-faultgate-fault': 'error;status=529' },
    });
    expect(an.statusCode).toBe(529);
    expect(await an.body.json()).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: expect.any(String) },
    });
    expect(calls()).toBe(0);
    const m = await scrape(fg.adminUrl);
    expect(
      m.get(
        'faultgate_faults_injected_total{agent="127.0.0.1",tool="llm",experiment="override",fault="error"}',
      ),
    ).toBe(1);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="llm",outcome="failure",injected="true"}'),
    ).toBe(1);
    expect(fg.logs.filter((l) => l.msg === 'fault injected')).toHaveLength(2);
  });

  it('a malformed override gets 400 FAULTGATE_ERR_OVERRIDE', async () => {
    const { fg } = await withOverrides();
    for (const bad of ['nosuch', 'error;status=99', 'latency;min_ms', '']) {
      const res = await request(`${fg.url}/v1/x`, { headers: { 'x-faultgate-fault': bad } });
      expect(res.statusCode).toBe(400);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
        'FAULTGATE_ERR_OVERRIDE',
      );
    }
  });

  it('latency delays the request, the first byte, or each chunk', async () => {
    const { fg } = await withOverrides();
    const t0 = Date.now();
    const r1 = await request(`${fg.url}/v1/x`, {
      headers: { 'x-faultgate-fault': 'latency;pattern=fixed;min_ms=300' },
    });
    await r1.body.text();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(r1.headers['x-faultgate-injected']).toBe('override/latency');
    const t1 = Date.now();
    const r2 = await request(`${fg.url}/v1/x`, {
      headers: { 'x-faultgate-fault': 'latency;pattern=fixed;min_ms=250;phase=first_byte' },
    });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(240);
    expect((await r2.body.text()).length).toBe(1000);
    const t2 = Date.now();
    const r3 = await request(`${fg.url}/v1/chunks`, {
      headers: { 'x-faultgate-fault': 'latency;pattern=fixed;min_ms=100;phase=chunk' },
    });
    expect(await r3.body.text()).toBe('abc');
    expect(Date.now() - t2).toBeGreaterThanOrEqual(290); // three upstream chunks, 100 ms each
  });

  it('timeout answers 504 after after_ms, or closes, or hangs until the client leaves', async () => {
    const { fg } = await withOverrides();
    const a = await rawGet(fg.port, '/v1/x', { 'x-faultgate-fault': 'timeout;after_ms=200' });
    expect(a.status).toBe(504);
    expect(a.ms).toBeGreaterThanOrEqual(190);
    expect(JSON.parse(a.body!).error.type).toBe('server_error');
    const b = await rawGet(fg.port, '/v1/x', { 'x-faultgate-fault': 'timeout;after_ms=100;then=close' });
    expect(b.status).toBeUndefined();
    expect(b.error).toBe('ECONNRESET'); // node reports "socket hang up" as ECONNRESET
    const c = await new Promise<{ closedAfter: number }>((resolve) => {
      const started = Date.now();
      const req = httpRequest({
        host: '127.0.0.1',
        port: fg.port,
        path: '/v1/x',
        headers: { 'x-faultgate-fault': 'timeout;then=hang' },
      });
      req.on('error', () => resolve({ closedAfter: Date.now() - started }));
      req.setTimeout(400, () => req.destroy());
      req.end();
    });
    expect(c.closedAfter).toBeGreaterThanOrEqual(390);
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'hang released');
  });

  it('reset sends a TCP RST before the response or after N body bytes; close sends no response', async () => {
    const { fg } = await withOverrides();
    const a = await rawGet(fg.port, '/v1/x', { 'x-faultgate-fault': 'reset' });
    expect(a.error).toBe('ECONNRESET');
    const b = await rawGet(fg.port, '/v1/x', { 'x-faultgate-fault': 'reset;phase=mid_body;after_bytes=100' });
    expect(b.status).toBe(200);
    expect(b.error).toBeDefined();
    expect((b.body ?? '').length).toBeLessThanOrEqual(100);
    const c = await rawGet(fg.port, '/v1/x', { 'x-faultgate-fault': 'close' });
    expect(c.status).toBeUndefined();
    expect(c.error).toBe('ECONNRESET');
    const m = await scrape(fg.adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="llm",outcome="failure",injected="true"}'),
    ).toBe(3);
  });

  it('empty answers an empty 200', async () => {
    const { fg, calls } = await withOverrides();
    const res = await request(`${fg.url}/v1/x`, { headers: { 'x-faultgate-fault': 'empty' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('');
    expect(calls()).toBe(0);
  });
});

describe('decisions', () => {
  const experiments = (level: number, seed = 42) => `chaos: { level: ${level}, seed: ${seed} }
tools:
  - name: search
    match: { path: "/search/**" }
experiments:
  - name: flaky
    type: error
    probability: 0.3
    target: { tools: [search] }
    config: { status: 503 }
  - name: slow
    type: latency
    target: { tools: [search], agents: [planner] }
    config: { pattern: fixed, min_ms: 1 }
`;

  async function sequence(level: number, seed = 42, n = 60): Promise<string[]> {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const { url } = await startFaultgate(configYaml({ upstream: up.url }, experiments(level, seed)));
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const agent = i % 2 === 0 ? 'planner' : 'coder';
      const res = await request(`${url}/search/q`, { headers: { 'x-agent-id': agent } });
      out.push(`${res.statusCode}:${res.headers['x-faultgate-injected'] ?? '-'}`);
      await res.body.dump();
    }
    return out;
  }

  it('the same seed and request sequence gives the same faults', async () => {
    const a = await sequence(1);
    const b = await sequence(1);
    expect(a).toEqual(b);
    expect(a.some((x) => x.startsWith('503'))).toBe(true);
    expect(a.some((x) => x.startsWith('200'))).toBe(true);
    // `slow` targets only planner and has no probability: it fires at 0.1 x level.
    expect(a.filter((x, i) => i % 2 === 1 && x.includes('slow'))).toHaveLength(0);
    expect(await sequence(1, 43)).not.toEqual(a);
  });

  it('level 0 turns chaos off and level scales probability', async () => {
    expect((await sequence(0)).every((x) => x === '200:-')).toBe(true);
    const high = await sequence(3.4); // 0.3 x 3.4 > 1: every request fails
    expect(high.every((x) => x.startsWith('503'))).toBe(true);
  });
});
