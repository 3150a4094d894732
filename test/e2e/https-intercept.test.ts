import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { configYaml, readAll, scrape, startFaultgate, waitFor } from '../helpers/index.js';
import {
  httpsUpstream,
  interceptingFaultgate,
  scrapeUntil,
  tlsThroughProxy,
  trustingAgent,
} from '../helpers/intercept.js';
import { metricSum } from '../helpers/wire.js';

const tools = `
tools:
  - { name: llm, match: { host: 127.0.0.1, path: "/v1/**" } }
  - { name: misc, match: { host: 127.0.0.1 } }
`;

describe('tls: intercept (undici ProxyAgent)', () => {
  it('terminates TLS with a leaf from the CA; bodies are byte-identical; identity by host and path; metrics', async () => {
    const payload = randomBytes(512 * 1024 + 3);
    const up = await httpsUpstream(async (req: IncomingMessage, res: ServerResponse) => {
      const body = await readAll(req);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-path': req.url ?? '' });
      res.end(req.method === 'POST' ? body : payload);
    });
    const fg = await interceptingFaultgate({}, tools);
    const dispatcher = trustingAgent(fg.url, fg.caPem);
    const down = await request(`${up.url}/v1/download`, { dispatcher, headers: { 'x-agent-id': 'planner' } });
    expect(down.statusCode).toBe(200);
    expect(down.headers['x-path']).toBe('/v1/download');
    expect(Buffer.from(await down.body.arrayBuffer()).equals(payload)).toBe(true);
    const up2 = await request(`${up.url}/other`, {
      dispatcher,
      method: 'POST',
      body: payload,
      headers: { 'x-agent-id': 'planner' },
    });
    expect(Buffer.from(await up2.body.arrayBuffer()).equals(payload)).toBe(true);

    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'llm', outcome: 'success' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_requests_total', { agent: 'planner', tool: 'misc', outcome: 'success' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_tls_intercepted_total')).toBeGreaterThanOrEqual(1);
    expect(metricSum(m, 'faultgate_tls_certificates_issued_total')).toBe(1);
  });
});

/** An https upstream for fault tests: /json answers JSON, /sse streams five events, /big 64 KiB. */
async function faultUpstream() {
  return httpsUpstream((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.includes('/sse')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const tick = () => {
        if (n === 5) {
          res.end('data: [DONE]\n\n');
          return;
        }
        res.write(`data: {"n":${n++}}\n\n`);
        setTimeout(tick, 5);
      };
      tick();
      return;
    }
    if (req.url?.includes('/big')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(65_536) });
      res.end(Buffer.alloc(65_536, 0x62));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
}

function events(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => e.trim());
}

describe('tls: intercept applies faults through TLS', () => {
  it('an injected 503, a truncation and an SSE cut reach the client through TLS; SSE arrives event by event; tracked', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, `${tools}chaos: { header_overrides: true }\n`);
    const dispatcher = trustingAgent(fg.url, fg.caPem);
    const agent = { 'x-agent-id': 'planner' };

    const sse = await request(`${up.url}/v1/sse`, { dispatcher, headers: agent });
    expect(sse.headers['content-type']).toBe('text/event-stream');
    const seen: string[] = [];
    for await (const chunk of sse.body) seen.push(...events(chunk.toString()));
    expect(seen).toEqual([
      'data: {"n":0}',
      'data: {"n":1}',
      'data: {"n":2}',
      'data: {"n":3}',
      'data: {"n":4}',
      'data: [DONE]',
    ]);

    const failed = await request(`${up.url}/v1/json`, {
      dispatcher,
      headers: { ...agent, 'x-faultgate-fault': 'error;status=503' },
    });
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['x-faultgate-injected']).toMatch(/error/);
    await failed.body.text();

    const truncated = await request(`${up.url}/v1/big`, {
      dispatcher,
      headers: { ...agent, 'x-faultgate-fault': 'truncate;after_bytes=1000' },
    });
    expect(truncated.statusCode).toBe(200);
    await expect(truncated.body.arrayBuffer()).rejects.toThrow();

    const cut = await request(`${up.url}/v1/sse`, {
      dispatcher,
      headers: { ...agent, 'x-faultgate-fault': 'sse;action=truncate;after_events=2' },
    });
    const got: string[] = [];
    try {
      for await (const chunk of cut.body) got.push(...events(chunk.toString()));
    } catch {
      // a cut stream may end in an error on the client side; what arrived is what counts
    }
    expect(got).toEqual(['data: {"n":0}', 'data: {"n":1}']);

    // The agent recovers: a plain request to the same tool succeeds.
    const ok = await request(`${up.url}/v1/json`, { dispatcher, headers: agent });
    expect(await ok.body.json()).toEqual({ ok: true });

    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'planner', tool: 'llm', fault: 'error' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'planner', tool: 'llm', fault: 'truncate' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'planner', tool: 'llm', fault: 'sse' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_requests_total', {
        agent: 'planner',
        tool: 'llm',
        outcome: 'failure',
        injected: 'true',
      }),
    ).toBe(3);
    expect(
      metricSum(m, 'faultgate_incidents_total', { agent: 'planner', tool: 'llm' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricSum(m, 'faultgate_recoveries_total', { agent: 'planner', tool: 'llm' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('a reset fault resets the TCP connection under the TLS session', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, `${tools}chaos: { header_overrides: true }\n`);
    const dispatcher = trustingAgent(fg.url, fg.caPem);
    await expect(
      request(`${up.url}/v1/json`, { dispatcher, headers: { 'x-faultgate-fault': 'reset' } }),
    ).rejects.toThrow(/ECONNRESET|socket|closed/i);
    const ok = await request(`${up.url}/v1/json`, { dispatcher });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_faults_injected_total', { fault: 'reset' })).toBe(1);
  });
});

describe('clients that do not trust the CA, and passthrough', () => {
  it('a client that rejects the leaf fails cleanly, is counted and logged once per host with the fix', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, tools);
    for (let i = 0; i < 2; i++) {
      await expect(
        tlsThroughProxy(fg.port, `127.0.0.1:${up.port}`, { ca: up.pki.caCert, host: '127.0.0.1' }),
      ).rejects.toThrow(/self.signed|unable to (get|verify)|certificate/i);
    }
    // Node checks the certificate after the handshake and closes without a request.
    const closed = () => fg.logs.filter((l) => l.reason === 'closed_before_request');
    await waitFor(() => closed().length === 1, 5000, 'the warning');
    expect(String(closed()[0]!.fix)).toMatch(/faultgate ca init/);
    const rejected = { reason: 'closed_before_request' };
    const m = await scrapeUntil(
      fg.adminUrl,
      (m) => metricSum(m, 'faultgate_tls_handshake_failures_total', rejected) >= 2,
    );
    expect(metricSum(m, 'faultgate_tls_handshake_failures_total', rejected)).toBe(2);
    expect(closed()).toHaveLength(1); // once per host
    // Nothing crashed: a trusting client is served.
    const ok = await request(`${up.url}/v1/json`, { dispatcher: trustingAgent(fg.url, fg.caPem) });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
  });

  it('a tls_passthrough host stays opaque: the client sees the upstream certificate', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({ tls_passthrough: ['127.0.0.1'] }, tools);
    const tls = await tlsThroughProxy(fg.port, `127.0.0.1:${up.port}`, { ca: up.pki.caCert });
    expect(tls.getPeerCertificate().issuer.CN).toBe('faultgate test CA');
    tls.destroy();
    // An intercepted host, by contrast, shows faultgate's leaf.
    const other = await interceptingFaultgate({}, tools);
    const intercepted = await tlsThroughProxy(other.port, `127.0.0.1:${up.port}`, {
      ca: other.caPem,
      host: '127.0.0.1',
    });
    expect(intercepted.getPeerCertificate().issuer.CN).toMatch(/faultgate interception CA/);
    expect(intercepted.alpnProtocol).toBe(false);
    intercepted.destroy();
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_tls_intercepted_total')).toBe(0);
  });
});

describe('interception CA lifecycle and hostile handshakes', () => {
  it('start creates the CA in ca.dir and logs where; a second start reuses it without a word', async () => {
    const first = await interceptingFaultgate({}, tools);
    const created = first.logs.find((l) => String(l.msg).startsWith('created the interception CA'));
    expect(created?.dir).toBe(first.caDir);
    expect(JSON.stringify(first.logs)).not.toContain('PRIVATE KEY');
    const again = await startFaultgate(
      configYaml(
        { forward: true, tls: 'intercept', allow_hosts: ['127.0.0.1'] },
        `ca: { dir: ${JSON.stringify(first.caDir)} }\n`,
      ),
    );
    expect(again.logs.some((l) => String(l.msg).startsWith('created the interception CA'))).toBe(false);
    expect(readFileSync(join(first.caDir, 'ca.pem'), 'utf8')).toBe(first.caPem);
  });

  it('issues a leaf for the SNI name when allow_hosts allows it, else the CONNECT host leaf', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const target = `127.0.0.1:${up.port}`;
    const named = await tlsThroughProxy(fg.port, target, { ca: fg.caPem, servername: 'localhost' });
    expect(named.getPeerCertificate().subjectaltname).toBe('DNS:localhost');
    named.destroy();
    const other = await tlsThroughProxy(fg.port, target, {
      ca: fg.caPem,
      servername: 'evil.example',
      checkServerIdentity: () => undefined,
    });
    expect(other.getPeerCertificate().subjectaltname).toBe('IP Address:127.0.0.1');
    other.destroy();
  });

  it('concurrent first handshakes for a new host sign one leaf; the leaves of all hosts carry one key', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const target = `127.0.0.1:${up.port}`;
    const sessions = await Promise.all(
      Array.from({ length: 8 }, () =>
        tlsThroughProxy(fg.port, target, { ca: fg.caPem, servername: 'localhost' }),
      ),
    );
    const byIp = await tlsThroughProxy(fg.port, target, { ca: fg.caPem, host: '127.0.0.1' });
    const certs = [...sessions, byIp].map((s) => s.getPeerX509Certificate()!);
    for (const s of [...sessions, byIp]) s.destroy();
    expect(new Set(certs.slice(0, 8).map((c) => c.serialNumber)).size).toBe(1);
    expect(certs[8]!.subjectAltName).toBe('IP Address:127.0.0.1');
    const spki = (c: (typeof certs)[number]) =>
      c.publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    expect(spki(certs[8]!)).toBe(spki(certs[0]!));
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_tls_certificates_issued_total')).toBe(2);
  });

  it('garbage after a TLS record header is a counted handshake error; the proxy keeps serving', async () => {
    const up = await faultUpstream();
    const fg = await interceptingFaultgate({}, tools);
    const socket = connect({ host: '127.0.0.1', port: fg.port });
    onTestFinished(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`);
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0x41)]));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const m = await scrapeUntil(
      fg.adminUrl,
      (m) => metricSum(m, 'faultgate_tls_handshake_failures_total', { reason: 'handshake_error' }) >= 1,
    );
    expect(metricSum(m, 'faultgate_tls_handshake_failures_total', { reason: 'handshake_error' })).toBe(1);
    const ok = await request(`${up.url}/v1/json`, { dispatcher: trustingAgent(fg.url, fg.caPem) });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
  });
});
