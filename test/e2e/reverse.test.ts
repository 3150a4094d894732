import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, readAll, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

/** Sends raw bytes and returns everything the server writes until it closes. */
function rawRequest(port: string | number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(bytes));
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
  });
}

describe('reverse mode', () => {
  it('forwards GET with Host rewritten, X-Forwarded-* added and hop-by-hop headers dropped', async () => {
    let seen: IncomingHttpHeaders = {};
    let seenUrl = '';
    const up = await startUpstream((req, res) => {
      seen = req.headers;
      seenUrl = req.url ?? '';
      res.writeHead(201, { 'x-upstream': 'yes', 'keep-alive': 'timeout=99', 'content-type': 'text/plain' });
      res.end('hello');
    });
    const { url } = await startFaultgate(configYaml({ upstream: `${up.url}/base` }));
    // A raw request: HTTP clients normalise `Connection`, and this test needs it as written.
    const reply = await rawRequest(
      new URL(url).port,
      'GET /v1/x?q=1 HTTP/1.1\r\nHost: gw.local\r\nX-Agent-Id: planner\r\nX-Forwarded-For: 10.1.1.1\r\n' +
        'Connection: close, x-drop-me\r\nX-Drop-Me: 1\r\nProxy-Authorization: Basic c2VjcmV0OnM=\r\n' +
        'X-Faultgate-Fault: error;status=503\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 201 /);
    expect(reply).toMatch(/\r\nx-upstream: yes\r\n/i);
    expect(reply).not.toContain('timeout=99');
    expect(reply.slice(reply.indexOf('\r\n\r\n'))).toContain('hello');
    expect(seenUrl).toBe('/base/v1/x?q=1');
    expect(seen.host).toBe(`127.0.0.1:${up.port}`);
    expect(seen['x-forwarded-for']).toBe('10.1.1.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('gw.local');
    expect(seen['x-agent-id']).toBe('planner');
    expect(seen['x-drop-me']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-faultgate-fault']).toBeUndefined();
  });

  it('routes to the matching tool upstream before the listener upstream', async () => {
    const a = await startUpstream((_req, res) => res.end('listener'));
    const b = await startUpstream((_req, res) => res.end('tool'));
    const { url } = await startFaultgate(
      configYaml(
        { upstream: a.url },
        `tools:\n  - name: search\n    match: { path: "/search/**" }\n    upstream: ${b.url}\n`,
      ),
    );
    expect(await (await request(`${url}/search/q`)).body.text()).toBe('tool');
    expect(await (await request(`${url}/other`)).body.text()).toBe('listener');
  });

  it('answers 502 FAULTGATE_ERR_NO_UPSTREAM when neither the tool nor the listener has an upstream', async () => {
    const { url } = await startFaultgate(configYaml({}));
    const res = await request(`${url}/x`);
    expect(res.statusCode).toBe(502);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
      'FAULTGATE_ERR_NO_UPSTREAM',
    );
  });

  it('streams a large POST body to the upstream and a large response back, byte for byte', async () => {
    const size = 48 * 1024 * 1024;
    const up = await startUpstream(async (req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        n += c.length;
        hash.update(c);
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'x-request-sha256': hash.digest('hex'),
      });
      // A generated body of the same size, honouring backpressure.
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < n) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const piece = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < piece.length; i++) piece[i] = i % 251;
    const expected = createHash('sha256');
    for (let off = 0; off < size; off += piece.length) expected.update(piece);
    const body = Readable.from(
      (function* () {
        for (let off = 0; off < size; off += piece.length) yield piece;
      })(),
    );
    const res = await request(`${url}/upload`, {
      method: 'POST',
      body,
      headers: { 'content-length': String(size) },
    });
    const got = createHash('sha256');
    let received = 0;
    for await (const c of res.body) {
      received += c.length;
      got.update(c);
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-sha256']).toBe(expected.digest('hex'));
    expect(got.digest('hex')).toBe(createHash('sha256').update(Buffer.alloc(size, 7)).digest('hex'));
    expect(received).toBe(size);
  });

  it('delivers SSE events as they are produced, without buffering', async () => {
    // The upstream sends the rest only once the client has the first event: a proxy that
    // buffered would never deliver it, so no upper time bound is needed.
    let firstArrived: () => void = () => {};
    const clientHasFirst = new Promise<void>((resolve) => (firstArrived = resolve));
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const tick = () => {
        res.write(`data: {"i":${i}}\n\n`);
        if (++i < 4) setTimeout(tick, 300);
        else setTimeout(() => res.end('data: [DONE]\n\n'), 300);
      };
      res.write(`data: {"i":${i++}}\n\n`);
      clientHasFirst.then(() => setTimeout(tick, 300));
    });
    const { url } = await startFaultgate(configYaml({ upstream: up.url }));
    const started = Date.now();
    const res = await request(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    const arrivals: number[] = [];
    let text = '';
    for await (const c of res.body) {
      text += c.toString();
      arrivals.push(Date.now() - started);
      if (text.includes('data: {"i":0}')) firstArrived();
    }
    const total = Date.now() - started;
    expect(text).toContain('data: [DONE]');
    expect(text.match(/data: \{"i":\d\}/g)).toHaveLength(4);
    // After the first event the stream takes ~1.2 s more: the first event came long before the end.
    expect(total).toBeGreaterThan(1000);
    expect(total - arrivals[0]!).toBeGreaterThanOrEqual(1000);
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
  });

  it('answers 502 when the upstream refuses and counts a connect error', async () => {
    const up = await startUpstream((_req, res) => res.end());
    const port = up.port;
    await new Promise<void>((r) => up.server.close(() => r()));
    const { url, adminUrl } = await startFaultgate(
      configYaml(
        { upstream: `http://127.0.0.1:${port}` },
        'tools:\n  - name: api\n    match: { path: "/**" }\n',
      ),
    );
    const res = await request(`${url}/x`, { headers: { 'x-agent-id': 'a1' } });
    expect(res.statusCode).toBe(502);
    const body = (await res.body.json()) as { error: { code: string } };
    expect(body.error.code).toBe('FAULTGATE_ERR_UPSTREAM_CONNECT');
    const m = await scrape(adminUrl);
    expect(m.get('faultgate_upstream_errors_total{tool="api",kind="connect"}')).toBe(1);
    expect(m.get('faultgate_requests_total{agent="a1",tool="api",outcome="failure",injected="false"}')).toBe(
      1,
    );
  });

  it('answers 504 when the upstream sends no headers within response_timeout_ms', async () => {
    const up = await startUpstream(() => {
      /* never answers */
    });
    const { url, adminUrl } = await startFaultgate(
      `${configYaml({ upstream: up.url })}upstream: { response_timeout_ms: 300 }\n`,
    );
    const started = Date.now();
    const res = await request(`${url}/slow`);
    expect(res.statusCode).toBe(504);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
      'FAULTGATE_ERR_UPSTREAM_TIMEOUT',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(
      (await scrape(adminUrl)).get('faultgate_upstream_errors_total{tool="unmatched",kind="timeout"}'),
    ).toBe(1);
  });

  it('aborts the client response when the upstream resets mid-body (no silent short 200)', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 97));
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const { url, adminUrl } = await startFaultgate(configYaml({ upstream: up.url }));
    const res = await request(`${url}/x`);
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toThrow();
    await waitFor(() => true);
    const m = await scrape(adminUrl);
    expect(m.get('faultgate_upstream_errors_total{tool="unmatched",kind="reset"}')).toBe(1);
    expect(
      m.get(
        'faultgate_requests_total{agent="127.0.0.1",tool="unmatched",outcome="failure",injected="false"}',
      ),
    ).toBe(1);
  });

  it('cancels the upstream request when the client leaves mid-response', async () => {
    let upstreamClosed = false;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: tick\n\n'), 20);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    const { url, port } = await startFaultgate(configYaml({ upstream: up.url }));
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/stream', headers: { host: new URL(url).host } },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.end();
      setTimeout(() => reject(new Error('no data')), 10_000).unref();
    });
    await waitFor(() => upstreamClosed, 5000, 'upstream to see the client leave');
    // The response closes before its socket does: wait for the socket, not a moment.
    await waitFor(() => up.sockets.size === 0, 5000, 'the upstream connection to close');
    expect(up.sockets.size).toBe(0);
  });

  it('answers 431 for headers over limits.max_header_bytes and keeps serving', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const { url } = await startFaultgate(
      `${configYaml({ upstream: up.url })}limits: { max_header_bytes: 2048 }\n`,
    );
    const res = await request(`${url}/x`, { headers: { 'x-big': 'a'.repeat(4096) } });
    expect(res.statusCode).toBe(431);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(
      'FAULTGATE_ERR_HEADERS_TOO_LARGE',
    );
    expect(await (await request(`${url}/x`)).body.text()).toBe('ok');
  });

  it('answers 400 for malformed HTTP and keeps serving', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const { url, port } = await startFaultgate(configYaml({ upstream: up.url }));
    const reply = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GARBAGE \x01\x02 NOT-HTTP\r\n\r\n'));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(reply).toContain('FAULTGATE_ERR_BAD_REQUEST');
    expect(await (await request(`${url}/x`)).body.text()).toBe('ok');
  });

  it('supports Expect: 100-continue uploads', async () => {
    const up = await startUpstream(async (req, res) => {
      const body = await readAll(req as AsyncIterable<Buffer>);
      res.end(`got ${body.length} expect=${req.headers.expect ?? 'none'}`);
    });
    const { port } = await startFaultgate(configYaml({ upstream: up.url }));
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/up',
          headers: { expect: '100-continue', 'content-length': '5000' },
        },
        (res) => readAll(res).then((b) => resolve(b.toString()), reject),
      );
      req.on('continue', () => req.end(Buffer.alloc(5000, 1)));
      req.on('error', reject);
    });
    expect(text).toBe('got 5000 expect=none');
  });

  it('protects against slow clients with headers_timeout_ms', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const { port } = await startFaultgate(
      `${configYaml({ upstream: up.url })}limits: { headers_timeout_ms: 300 }\n`,
    );
    // The client never finishes its headers: only the timeout can end the connection.
    const reply = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('labels requests and durations by agent and tool on /metrics', async () => {
    const up = await startUpstream((req, res) => {
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end();
    });
    const { url, adminUrl } = await startFaultgate(
      configYaml(
        { upstream: up.url },
        'metrics: { detail: full }\nagents: { from: ["header:x-agent-id"], default: anon }\ntools:\n  - name: search\n    match: { path: "/s*" }\n',
      ),
    );
    for (let i = 0; i < 3; i++)
      await (await request(`${url}/search`, { headers: { 'x-agent-id': 'planner' } })).body.dump();
    await (await request(`${url}/fail`)).body.dump();
    const m = await scrape(adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="planner",tool="search",outcome="success",injected="false"}'),
    ).toBe(3);
    expect(
      m.get('faultgate_requests_total{agent="anon",tool="unmatched",outcome="failure",injected="false"}'),
    ).toBe(1);
    expect(m.get('faultgate_request_duration_seconds_count{agent="planner",tool="search"}')).toBe(3);
    expect(m.get('faultgate_upstream_errors_total{tool="unmatched",kind="status"}')).toBe(1);
    const health = await fetch(`${adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${adminUrl}/readyz`)).status).toBe(200);
  });
});
