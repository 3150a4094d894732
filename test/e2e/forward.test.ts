import { randomBytes } from 'node:crypto';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  configYaml,
  readAll,
  scrape,
  startFaultgate,
  startUpstream,
  type TestFaultgate,
  type TestServer,
} from '../helpers/index.js';
import { testPki } from '../helpers/tls.js';
import {
  metricSum,
  rawRequest,
  startWsEchoUpstream,
  WireClient,
  wsClose,
  wsEcho,
  wsHandshake,
} from '../helpers/wire.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An http upstream that records every request and answers 200 `ok <path>` with `x-upstream: yes`. */
async function recordingUpstream(): Promise<TestServer & { seen: Seen[] }> {
  const seen: Seen[] = [];
  const up = await startUpstream(async (req: IncomingMessage, res: ServerResponse) => {
    const body = (await readAll(req)).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
    res.end(`ok ${req.url}`);
  });
  return { ...up, seen };
}

interface NodeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** node:http to the proxy with `path` as given (absolute-form when it is a URL), like `curl -x`. */
function viaNodeHttp(
  proxyPort: number,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: proxyPort,
        method: options.method ?? 'GET',
        path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        readAll(res).then(
          (body) =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8') }),
          reject,
        );
      },
    );
    onTestFinished(() => {
      req.destroy();
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorCode(body: string | Buffer): string {
  return (JSON.parse(body.toString()) as { error: { code: string; source: string } }).error.code;
}

function proxyAgent(options: ConstructorParameters<typeof ProxyAgent>[0]): ProxyAgent {
  const agent = new ProxyAgent(options);
  onTestFinished(() => agent.destroy());
  return agent;
}

/** A port nothing listens on: bound on port 0, then closed (only for "refused" cases). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The proxy still serves a normal absolute-form request after whatever the test did to it. */
async function expectStillForwarding(fg: TestFaultgate, up: TestServer): Promise<void> {
  const res = await viaNodeHttp(fg.port, `${up.url}/still-alive`, { headers: { connection: 'close' } });
  expect(res.status).toBe(200);
  expect(res.body).toBe('ok /still-alive');
}

/**
 * Stops the instance with a drain deadline the test cannot reach (vitest stops a test after
 * 20 s): close() resolving at all means nothing (a tunnel, an upgraded socket) was left open
 * behind the client's back. No upper wall-clock bound on a loaded runner.
 */
async function expectPromptClose(fg: TestFaultgate): Promise<void> {
  await expect(fg.fg.close(600_000)).resolves.toBeUndefined();
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Tools by path, agent from the proxy user: attribution of forward traffic shows in /metrics. */
const identityYaml = `metrics: { detail: full }
agents:
  from: [proxy_user]
  default: anonymous
tools:
  - name: chat
    match: { path: "/v1/chat/**" }
  - name: search
    match: { path: /search, methods: [GET] }
`;

describe('forward mode: absolute-form requests', () => {
  it('forwards to an allowed upstream without hop-by-hop, proxy-only or x-faultgate-* headers (node:http, curl -x style)', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }, identityYaml));
    const res = await viaNodeHttp(fg.port, `${up.url}/v1/chat/completions?stream=false`, {
      method: 'POST',
      headers: {
        host: `127.0.0.1:${up.port}`,
        'content-type': 'application/json',
        'proxy-authorization': basic('planner', 'secret'),
        'proxy-connection': 'keep-alive',
        connection: 'keep-alive, x-hop-only',
        'x-hop-only': 'must not pass',
        'keep-alive': 'timeout=5',
        'x-faultgate-fault': 'error;status=503',
        'x-faultgate-trace': '1',
        'x-end-to-end': 'kept',
      },
      body: '{"model":"m"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.body).toBe('ok /v1/chat/completions?stream=false');

    expect(up.seen).toHaveLength(1);
    const seen = up.seen[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/chat/completions?stream=false');
    expect(seen.body).toBe('{"model":"m"}');
    expect(seen.headers.host).toBe(`127.0.0.1:${up.port}`);
    expect(seen.headers['x-end-to-end']).toBe('kept');
    expect(seen.headers['content-type']).toBe('application/json');
    for (const name of ['proxy-authorization', 'proxy-connection', 'x-hop-only', 'keep-alive']) {
      expect(seen.headers[name], name).toBeUndefined();
    }
    expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-faultgate-'))).toEqual([]);

    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'chat', outcome: 'success' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total')).toBe(1);
    expect(metricSum(m, 'faultgate_upstream_errors_total')).toBe(0);
  });

  it('sends the exact bytes of a raw absolute-form request and returns status, headers and body', async () => {
    const up = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(418, { 'x-upstream-saw': `${req.method} ${req.url} ${req.headers.host}` });
      res.end('short and stout');
    });
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: [`127.0.0.1:${up.port}`] }));
    const res = await rawRequest(
      fg.port,
      `GET http://127.0.0.1:${up.port}/pot?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(418);
    expect(res.headers['x-upstream-saw']).toBe(`GET /pot?x=1 127.0.0.1:${up.port}`);
    expect(res.body.toString()).toBe('short and stout');
  });

  it('works with undici ProxyAgent in proxyTunnel: false mode and names the agent from the proxy user', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }, identityYaml));
    const dispatcher = proxyAgent({ uri: `http://planner:pw@127.0.0.1:${fg.port}`, proxyTunnel: false });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${up.url}/search?q=${i}`, {
        dispatcher,
        headers: { 'x-faultgate-fault': 'x' },
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe(`ok /search?q=${i}`);
    }
    const post = await request(`${up.url}/v1/chat/completions`, { dispatcher, method: 'POST', body: 'hi' });
    expect(await post.body.text()).toBe('ok /v1/chat/completions');

    expect(up.seen.map((s) => s.url)).toEqual([
      '/search?q=0',
      '/search?q=1',
      '/search?q=2',
      '/v1/chat/completions',
    ]);
    expect(up.seen[3]!.body).toBe('hi');
    for (const s of up.seen) {
      expect(s.headers['proxy-authorization']).toBeUndefined();
      expect(s.headers['x-faultgate-fault']).toBeUndefined();
    }
    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'search', outcome: 'success' }),
    ).toBe(3);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'chat', outcome: 'success' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total')).toBe(4);
  });
});

describe('forward mode: allow_hosts and forward: false', () => {
  it('answers 403 FAULTGATE_ERR_FORWARD_DENIED to absolute-form targets outside allow_hosts, before any connect', async () => {
    const allowed = await recordingUpstream();
    const other = await recordingUpstream();
    let otherConnections = 0;
    other.server.on('connection', () => otherConnections++);
    const fg = await startFaultgate(
      configYaml({ forward: true, allow_hosts: [`127.0.0.1:${allowed.port}`] }),
    );

    // Same host, a port allow_hosts does not list.
    const otherPort = await viaNodeHttp(fg.port, `${other.url}/x`);
    expect(otherPort.status).toBe(403);
    expect(otherPort.headers['content-type']).toBe('application/json');
    expect(errorCode(otherPort.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');
    expect(otherPort.body).toContain(`127.0.0.1:${other.port}`);

    // A name that must never be resolved: the answer comes from the allow list alone.
    const invalid = await viaNodeHttp(fg.port, 'http://blocked.invalid/x', {
      headers: { host: 'blocked.invalid' },
    });
    expect(invalid.status).toBe(403);
    expect(errorCode(invalid.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');
    const https = await viaNodeHttp(fg.port, 'https://blocked.invalid/x', {
      headers: { host: 'blocked.invalid' },
    });
    expect(https.status).toBe(403);
    expect(errorCode(https.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');

    // undici's ProxyAgent sees the 403 too.
    const dispatcher = proxyAgent({ uri: fg.url, proxyTunnel: false });
    const viaUndici = await request(`${other.url}/y`, { dispatcher });
    expect(viaUndici.statusCode).toBe(403);
    expect(errorCode(await viaUndici.body.text())).toBe('FAULTGATE_ERR_FORWARD_DENIED');

    expect(otherConnections).toBe(0);
    expect(other.seen).toEqual([]);
    await expectStillForwarding(fg, allowed);
    expect(allowed.seen).toHaveLength(1);
    expect(metricSum(await scrape(fg.adminUrl), 'faultgate_upstream_errors_total')).toBe(0);
  });

  it('answers 403 FAULTGATE_ERR_FORWARD_DENIED to CONNECT targets outside allow_hosts', async () => {
    const allowed = await recordingUpstream();
    const other = await recordingUpstream();
    let otherConnections = 0;
    other.server.on('connection', () => otherConnections++);
    const fg = await startFaultgate(
      configYaml({ forward: true, allow_hosts: [`127.0.0.1:${allowed.port}`] }),
    );

    for (const authority of ['blocked.invalid:443', `127.0.0.1:${other.port}`, 'localhost:443']) {
      const res = await rawRequest(fg.port, `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      expect(res.status, authority).toBe(403);
      expect(res.headers['content-type']).toBe('application/json');
      expect(errorCode(res.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');
      expect(res.body.toString()).toContain(authority);
    }

    // undici's tunnelling ProxyAgent fails the request instead of reaching the target.
    const dispatcher = proxyAgent(fg.url);
    await expect(request(`${other.url}/z`, { dispatcher })).rejects.toThrow(/403/);
    await expect(request(`https://127.0.0.1:${other.port}/z`, { dispatcher })).rejects.toThrow(/403/);

    expect(otherConnections).toBe(0);
    await expectStillForwarding(fg, allowed);
  });

  it('denies every forward target when allow_hosts is empty (never an open proxy)', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true }));
    const abs = await viaNodeHttp(fg.port, `${up.url}/x`);
    expect(abs.status).toBe(403);
    expect(errorCode(abs.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');
    const tunnel = await rawRequest(fg.port, `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(tunnel.status).toBe(403);
    expect(errorCode(tunnel.body)).toBe('FAULTGATE_ERR_FORWARD_DENIED');
    expect(up.seen).toEqual([]);
  });

  it('answers 403 FAULTGATE_ERR_FORWARD_DISABLED on a listener with forward: false, and keeps serving reverse traffic', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(
      configYaml({ upstream: up.url, forward: false, allow_hosts: ['127.0.0.1'] }),
    );

    const abs = await viaNodeHttp(fg.port, `${up.url}/absolute`);
    expect(abs.status).toBe(403);
    expect(errorCode(abs.body)).toBe('FAULTGATE_ERR_FORWARD_DISABLED');

    const tunnel = await rawRequest(fg.port, `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(tunnel.status).toBe(403);
    expect(errorCode(tunnel.body)).toBe('FAULTGATE_ERR_FORWARD_DISABLED');
    expect(up.seen).toEqual([]);

    const reverse = await request(`${fg.url}/reverse`);
    expect(reverse.statusCode).toBe(200);
    expect(await reverse.body.text()).toBe('ok /reverse');
    expect(up.seen.map((s) => s.url)).toEqual(['/reverse']);
  });
});

describe('forward mode: CONNECT tunnels', () => {
  it('serves plain HTTP inside a CONNECT tunnel (undici ProxyAgent default) with identity from the CONNECT', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }, identityYaml));
    const dispatcher = proxyAgent({ uri: `http://planner:x@127.0.0.1:${fg.port}` });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${up.url}/v1/chat/completions`, {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-faultgate-fault': 'error' },
        body: `{"n":${i}}`,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-upstream']).toBe('yes');
      expect(await res.body.text()).toBe('ok /v1/chat/completions');
    }
    const search = await request(`${up.url}/search?q=tunnel`, { dispatcher });
    expect(await search.body.text()).toBe('ok /search?q=tunnel');
    const other = await request(`${up.url}/elsewhere`, { dispatcher });
    expect(await other.body.text()).toBe('ok /elsewhere');

    expect(up.seen.map((s) => s.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}', '', '']);
    for (const s of up.seen) {
      expect(s.headers.host).toBe(`127.0.0.1:${up.port}`);
      expect(s.headers['proxy-authorization']).toBeUndefined();
      expect(s.headers['x-faultgate-fault']).toBeUndefined();
    }
    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'chat', outcome: 'success' }),
    ).toBe(3);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'search', outcome: 'success' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'unmatched', outcome: 'success' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'anonymous' })).toBe(0);
    expect(metricSum(m, 'faultgate_request_duration_seconds_count', { agent: 'planner', tool: 'chat' })).toBe(
      3,
    );
  });

  it('attributes tunnelled requests to the agent named by a token, and to the default without one', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }, identityYaml));
    const withToken = proxyAgent({ uri: fg.url, token: basic('critic', '') });
    const anonymous = proxyAgent({ uri: fg.url });
    expect((await request(`${up.url}/search`, { dispatcher: withToken })).statusCode).toBe(200);
    expect((await request(`${up.url}/search`, { dispatcher: anonymous })).statusCode).toBe(200);
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'critic', tool: 'search' })).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total', { agent: 'anonymous', tool: 'search' })).toBe(1);
  });

  it('pipes a TLS tunnel (tls: tunnel) to an https upstream; the client verifies the test CA and bodies arrive intact', async () => {
    const pki = await testPki();
    const up = await startUpstream(
      async (req: IncomingMessage, res: ServerResponse) => {
        const body = await readAll(req);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-received': String(body.length) });
        res.end(body);
      },
      createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }),
    );
    const fg = await startFaultgate(configYaml({ forward: true, tls: 'tunnel', allow_hosts: ['127.0.0.1'] }));
    const dispatcher = proxyAgent({ uri: fg.url, requestTls: { ca: pki.caCert } });
    const payload = randomBytes(1024 * 1024 + 17);
    const res = await request(`${up.url}/upload`, { dispatcher, method: 'POST', body: payload });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-received']).toBe(String(payload.length));
    const echoed = Buffer.from(await res.body.arrayBuffer());
    expect(echoed.length).toBe(payload.length);
    expect(echoed.equals(payload)).toBe(true);

    // A client that does not trust the test CA fails the handshake end to end: nothing is terminated in between.
    const untrusting = proxyAgent({ uri: fg.url });
    await expect(request(`${up.url}/upload`, { dispatcher: untrusting })).rejects.toThrow(
      /certificate|self.signed|verify/i,
    );

    const ok = await request(`${up.url}/again`, { dispatcher, method: 'POST', body: 'small' });
    expect(await ok.body.text()).toBe('small');
  });

  it('answers 400 to CONNECT with a malformed authority and keeps serving', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    for (const authority of [
      '127.0.0.1',
      '127.0.0.1:',
      ':443',
      '127.0.0.1:https',
      '127.0.0.1:99999',
      '127.0.0.1:0',
    ]) {
      const res = await rawRequest(fg.port, `CONNECT ${authority} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect(res.status, authority).toBe(400);
      expect(errorCode(res.body), authority).toBe('FAULTGATE_ERR_BAD_REQUEST');
      await expectStillForwarding(fg, up);
    }
    expect(up.seen).toHaveLength(6);
  });

  it('closes the client tunnel when the TLS target refuses, counts a connect error and keeps serving', async () => {
    const up = await recordingUpstream();
    const port = await closedPort();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));

    const client = await WireClient.connect(fg.port);
    client.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const head = await client.readHead();
    expect(head.status).toBe(200);
    // The first bytes of a TLS ClientHello: an opaque tunnel to a port nothing listens on.
    client.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00]));
    await client.waitClosed();

    let m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_upstream_errors_total', { kind: 'connect' })).toBe(1);

    // The same through undici: an https request in a tunnel to the closed port fails.
    const dispatcher = proxyAgent(fg.url);
    await expect(request(`https://127.0.0.1:${port}/`, { dispatcher })).rejects.toThrow();
    m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_upstream_errors_total', { kind: 'connect' })).toBe(2);

    await expectStillForwarding(fg, up);
  });

  it('answers 502 FAULTGATE_ERR_UPSTREAM_CONNECT to plain HTTP in a tunnel whose target refuses, and keeps serving', async () => {
    const up = await recordingUpstream();
    const port = await closedPort();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }, identityYaml));

    const dispatcher = proxyAgent({ uri: `http://planner:x@127.0.0.1:${fg.port}` });
    const res = await request(`http://127.0.0.1:${port}/search`, { dispatcher });
    expect(res.statusCode).toBe(502);
    expect(errorCode(await res.body.text())).toBe('FAULTGATE_ERR_UPSTREAM_CONNECT');

    const abs = await viaNodeHttp(fg.port, `http://127.0.0.1:${port}/search`);
    expect(abs.status).toBe(502);
    expect(errorCode(abs.body)).toBe('FAULTGATE_ERR_UPSTREAM_CONNECT');

    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_upstream_errors_total', { kind: 'connect' })).toBe(2);
    expect(metricSum(m, 'faultgate_upstream_errors_total', { tool: 'search', kind: 'connect' })).toBe(2);
    expect(metricSum(m, 'faultgate_requests_total', { tool: 'search', outcome: 'failure' })).toBe(2);

    const ok = await request(`${up.url}/search`, { dispatcher });
    expect(await ok.body.text()).toBe('ok /search');
    await expectStillForwarding(fg, up);
  });
});

describe('reverse mode to an https upstream', () => {
  it('trusts the CA in upstream.ca_file', async () => {
    const pki = await testPki();
    const up = await startUpstream(
      (req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(200, { 'x-host': req.headers.host ?? '' });
        res.end(`tls ok ${req.url}`);
      },
      createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }),
    );
    const fg = await startFaultgate(
      configYaml({ upstream: up.url }, `upstream:\n  ca_file: ${JSON.stringify(pki.caFile)}\n`),
    );
    const res = await request(`${fg.url}/v1/models`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-host']).toBe(`127.0.0.1:${up.port}`);
    expect(await res.body.text()).toBe('tls ok /v1/models');
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_requests_total', { outcome: 'success' })).toBe(1);
    expect(metricSum(m, 'faultgate_upstream_errors_total')).toBe(0);
  });

  it('answers 502 FAULTGATE_ERR_UPSTREAM_TLS when the upstream certificate is not trusted', async () => {
    const pki = await testPki();
    const up = await startUpstream(
      (_req: IncomingMessage, res: ServerResponse) => res.end('must not be reached'),
      createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }),
    );
    let requests = 0;
    up.server.on('request', () => requests++);
    const fg = await startFaultgate(configYaml({ upstream: up.url }));
    const res = await request(`${fg.url}/v1/models`);
    expect(res.statusCode).toBe(502);
    const body = await res.body.text();
    expect(errorCode(body)).toBe('FAULTGATE_ERR_UPSTREAM_TLS');
    expect(JSON.parse(body).error.source).toBe('faultgate');
    expect(requests).toBe(0);
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_upstream_errors_total', { kind: 'connect' })).toBe(1);
    expect(metricSum(m, 'faultgate_requests_total', { outcome: 'failure' })).toBe(1);
    // Still serving: the next request gets the same clear answer, not a hang or a crash.
    expect((await request(`${fg.url}/again`)).statusCode).toBe(502);
  });
});

describe('WebSocket upgrades pass through', () => {
  it('in reverse mode', async () => {
    const ws = await startWsEchoUpstream();
    const fg = await startFaultgate(configYaml({ upstream: ws.url }));
    const client = await WireClient.connect(fg.port);
    const head = await wsHandshake(client, '/socket?room=1', `127.0.0.1:${fg.port}`, {
      'x-faultgate-fault': 'reset',
    });
    expect(head.status).toBe(101);
    expect(head.headers.upgrade?.toLowerCase()).toBe('websocket');
    for (const text of ['hello', 'second message', 'ü'.repeat(200)]) {
      const frame = await wsEcho(client, text);
      expect(frame.opcode).toBe(0x1);
      expect(frame.masked).toBe(false);
      expect(frame.payload.toString('utf8')).toBe(text);
    }
    expect(ws.handshakes).toHaveLength(1);
    expect(ws.handshakes[0]!.url).toBe('/socket?room=1');
    expect(ws.handshakes[0]!.headers.host).toBe(`127.0.0.1:${ws.port}`);
    expect(ws.handshakes[0]!.headers['x-faultgate-fault']).toBeUndefined();
    expect(ws.frames.every((f) => f.masked)).toBe(true);

    // A plain request on the same listener still works.
    const res = await request(`${fg.url}/plain`);
    expect(res.statusCode).toBe(426);
    await res.body.dump();

    const close = await wsClose(client);
    expect(close.opcode).toBe(0x8);
    expect(close.payload.readUInt16BE(0)).toBe(1000);
    await expectPromptClose(fg);
  });

  it('via forward absolute-form', async () => {
    const ws = await startWsEchoUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    const client = await WireClient.connect(fg.port);
    const head = await wsHandshake(client, `${ws.url}/socket`, `127.0.0.1:${ws.port}`, {
      'proxy-authorization': basic('planner', 'x'),
      'proxy-connection': 'keep-alive',
      'x-faultgate-fault': 'reset',
    });
    expect(head.status).toBe(101);
    expect((await wsEcho(client, 'through the forward proxy')).payload.toString()).toBe(
      'through the forward proxy',
    );
    expect(ws.handshakes).toHaveLength(1);
    const seen = ws.handshakes[0]!;
    expect(seen.url).toBe('/socket');
    expect(seen.headers.host).toBe(`127.0.0.1:${ws.port}`);
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['proxy-connection']).toBeUndefined();
    expect(seen.headers['x-faultgate-fault']).toBeUndefined();
    expect((await wsClose(client)).opcode).toBe(0x8);
    await expectPromptClose(fg);
  });

  it('inside a CONNECT tunnel', async () => {
    const ws = await startWsEchoUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    const client = await WireClient.connect(fg.port);
    client.write(`CONNECT 127.0.0.1:${ws.port} HTTP/1.1\r\nHost: 127.0.0.1:${ws.port}\r\n\r\n`);
    expect((await client.readHead()).status).toBe(200);
    const head = await wsHandshake(client, '/tunnelled', `127.0.0.1:${ws.port}`);
    expect(head.status).toBe(101);
    expect((await wsEcho(client, 'inside the tunnel')).payload.toString()).toBe('inside the tunnel');
    expect((await wsEcho(client, 'and again')).payload.toString()).toBe('and again');
    expect(ws.handshakes.map((h) => h.url)).toEqual(['/tunnelled']);
    expect((await wsClose(client)).opcode).toBe(0x8);
    await expectPromptClose(fg);
  });

  it('is cut by shutdown once the drain time is over, when the client keeps it open', async () => {
    const ws = await startWsEchoUpstream();
    const fg = await startFaultgate(configYaml({ upstream: ws.url }));
    const client = await WireClient.connect(fg.port);
    expect((await wsHandshake(client, '/open', `127.0.0.1:${fg.port}`)).status).toBe(101);
    expect((await wsEcho(client, 'still here')).payload.toString()).toBe('still here');
    // The client keeps the socket open: only the 200 ms drain deadline can end it.
    await fg.fg.close(200);
    await client.waitClosed();
  });

  it('is refused with 403 for a forward target outside allow_hosts', async () => {
    const ws = await startWsEchoUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['localhost'] }));
    const client = await WireClient.connect(fg.port);
    const head = await wsHandshake(client, `${ws.url}/socket`, `127.0.0.1:${ws.port}`);
    expect(head.status).toBe(403);
    expect(head.headers['x-faultgate-error']).toBe('FAULTGATE_ERR_FORWARD_DENIED');
    expect(ws.handshakes).toEqual([]);
  });
});

describe('the proxy survives malformed forward requests', () => {
  it('answers garbage with 4xx and keeps serving', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    const cases = [
      `GET ftp://127.0.0.1:${up.port}/file HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET http:// HTTP/1.1\r\nHost: x\r\n\r\n',
      'GARBAGE\r\n\r\n',
      `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nContent-Length: nope\r\n\r\n`,
    ];
    for (const raw of cases) {
      const client = await WireClient.connect(fg.port);
      client.write(raw);
      const res = await client.readResponse();
      expect(res.status, raw).toBeGreaterThanOrEqual(400);
      expect(res.status, raw).toBeLessThan(500);
      await expectStillForwarding(fg, up);
    }
    expect(up.seen.map((s) => s.url)).toEqual(cases.map(() => '/still-alive'));

    // A syntactically valid URL with a port nothing can connect to.
    const zero = await viaNodeHttp(fg.port, 'http://127.0.0.1:0/x', { headers: { host: '127.0.0.1:0' } });
    expect(zero.status).toBeGreaterThanOrEqual(400);
    expect(errorCode(zero.body)).toMatch(/^FAULTGATE_ERR_/);
    await expectStillForwarding(fg, up);
  });

  it('survives a client that hangs up right after CONNECT, before the tunnel carries a byte', async () => {
    const up = await recordingUpstream();
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    for (let i = 0; i < 5; i++) {
      const client = await WireClient.connect(fg.port);
      client.write(`CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`);
      expect((await client.readHead()).status).toBe(200);
      client.socket.end();
    }
    await expectStillForwarding(fg, up);
    expect(up.seen).toHaveLength(1);
    // The proxy's side of each abandoned tunnel was closed, so shutdown has nothing to wait for.
    await expectPromptClose(fg);
  });
});
