import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, scrape, startFaultgate } from '../helpers/index.js';
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
  - { name: secure, match: { host: 127.0.0.1, path: "/v1/**", methods: [POST] } }
chaos: { header_overrides: true, seed: 7 }
`;

const BIG = 96 * 1024;

async function upstream() {
  return httpsUpstream((req: IncomingMessage, res: ServerResponse) => {
    const big = req.url === '/big';
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(big ? BIG : 2),
    });
    res.end(big ? Buffer.alloc(BIG, 0x74) : 'ok');
  });
}

/** A tls: tunnel forward listener (opaque TLS) allowing 127.0.0.1. */
async function tunnelling(extra = tools) {
  return startFaultgate(configYaml({ forward: true, tls: 'tunnel', allow_hosts: ['127.0.0.1'] }, extra));
}

function agentHeader(agent: string, fault?: string): string {
  return `x-agent-id: ${agent}\r\n${fault ? `x-faultgate-fault: ${fault}\r\n` : ''}`;
}

/** GET `path` over a TLS session opened through the tunnel; resolves to the whole raw response. */
async function getOver(
  port: number,
  target: string,
  ca: string,
  path: string,
  headers: string,
): Promise<Buffer> {
  const tls = await tlsThroughProxy(port, target, { ca, host: '127.0.0.1' }, headers);
  tls.write(`GET ${path} HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const c of tls) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('connection faults on opaque TLS tunnels', () => {
  it('reset and close break the tunnel before the handshake; the next tunnel works; tracked as an incident and a recovery', async () => {
    const up = await upstream();
    const fg = await tunnelling();
    const target = `127.0.0.1:${up.port}`;
    const ca = up.pki.caCert;
    await expect(
      tlsThroughProxy(fg.port, target, { ca, host: '127.0.0.1' }, agentHeader('a1', 'reset')),
    ).rejects.toThrow(/ECONNRESET|socket disconnected/);
    await expect(
      tlsThroughProxy(fg.port, target, { ca, host: '127.0.0.1' }, agentHeader('a1', 'close')),
    ).rejects.toThrow(/socket disconnected|ECONNRESET/);
    const ok = await getOver(fg.port, target, ca, '/x', agentHeader('a1'));
    expect(ok.toString()).toMatch(/^HTTP\/1.1 200[\s\S]*\r\n\r\nok$/);
    const labels = { agent: 'a1', tool: 'secure' };
    const m = await scrapeUntil(fg.adminUrl, (m) => metricSum(m, 'faultgate_requests_total', labels) >= 3);
    expect(metricSum(m, 'faultgate_faults_injected_total', { ...labels, fault: 'reset' })).toBe(1);
    expect(metricSum(m, 'faultgate_faults_injected_total', { ...labels, fault: 'close' })).toBe(1);
    expect(
      metricSum(m, 'faultgate_requests_total', { ...labels, outcome: 'failure', injected: 'true' }),
    ).toBe(2);
    expect(
      metricSum(m, 'faultgate_requests_total', { ...labels, outcome: 'success', injected: 'false' }),
    ).toBe(1);
    expect(metricSum(m, 'faultgate_incidents_total', labels)).toBe(1);
    expect(metricSum(m, 'faultgate_recoveries_total', labels)).toBe(1);
    expect(metricSum(m, 'faultgate_active_faults')).toBe(0);
  });

  it('latency delays the tunnel before the upstream is dialled; bandwidth paces the download; bytes arrive intact', async () => {
    const up = await upstream();
    const fg = await tunnelling();
    const target = `127.0.0.1:${up.port}`;
    const ca = up.pki.caCert;
    const t0 = performance.now();
    const delayed = await getOver(
      fg.port,
      target,
      ca,
      '/x',
      agentHeader('a2', 'latency;pattern=fixed;min_ms=300'),
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(delayed.toString()).toMatch(/ok$/);

    const t1 = performance.now();
    const paced = await getOver(
      fg.port,
      target,
      ca,
      '/big',
      agentHeader('a2', 'bandwidth;bytes_per_s=131072'),
    );
    // ~96 KiB of body plus TLS overhead at 128 KiB/s: at least half a second.
    expect(performance.now() - t1).toBeGreaterThanOrEqual(500);
    const body = paced.subarray(paced.indexOf('\r\n\r\n') + 4);
    expect(body.equals(Buffer.alloc(BIG, 0x74))).toBe(true);
    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'a2', tool: 'secure', fault: 'latency' }),
    ).toBe(1);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { agent: 'a2', tool: 'secure', fault: 'bandwidth' }),
    ).toBe(1);
  });

  it('a reset mid-stream cuts the tunnel after after_bytes; timeout then=close closes it; other types are skipped and counted', async () => {
    const up = await upstream();
    const fg = await tunnelling();
    const target = `127.0.0.1:${up.port}`;
    const ca = up.pki.caCert;
    // The RST follows the first 20000 bytes of the TLS stream. (On Linux an RST that arrives
    // behind unread data reads as an end of stream, so the client may see either.)
    const cut = await getOver(
      fg.port,
      target,
      ca,
      '/big',
      agentHeader('a3', 'reset;phase=mid_body;after_bytes=20000'),
    ).catch((err: Error) => err);
    if (Buffer.isBuffer(cut)) expect(cut.length).toBeLessThan(20_000);
    else expect(cut.message).toMatch(/ECONNRESET/);
    const t0 = performance.now();
    await expect(
      tlsThroughProxy(
        fg.port,
        target,
        { ca, host: '127.0.0.1' },
        agentHeader('a3', 'timeout;after_ms=200;then=close'),
      ),
    ).rejects.toThrow(/socket disconnected|ECONNRESET/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    // An error answer cannot be injected into bytes faultgate cannot read: skipped, the tunnel works.
    const ok = await getOver(fg.port, target, ca, '/x', agentHeader('a3', 'error;status=503'));
    expect(ok.toString()).toMatch(/^HTTP\/1.1 200/);
    const m = await scrape(fg.adminUrl);
    expect(metricSum(m, 'faultgate_faults_skipped_total', { fault: 'error' })).toBe(1);
    expect(metricSum(m, 'faultgate_faults_injected_total', { agent: 'a3', fault: 'reset' })).toBe(1);
    expect(metricSum(m, 'faultgate_faults_injected_total', { agent: 'a3', fault: 'timeout' })).toBe(1);
    expect(metricSum(m, 'faultgate_faults_injected_total', { agent: 'a3', fault: 'error' })).toBe(0);
  });

  it('a hang holds the tunnel until the client leaves, counted as active, then a failure', async () => {
    const up = await upstream();
    const fg = await tunnelling();
    const target = `127.0.0.1:${up.port}`;
    const pending = tlsThroughProxy(
      fg.port,
      target,
      { ca: up.pki.caCert, host: '127.0.0.1' },
      agentHeader('a4', 'timeout;then=hang'),
    );
    pending.catch(() => {});
    const m = await scrapeUntil(fg.adminUrl, (m) => metricSum(m, 'faultgate_active_faults') >= 1);
    expect(metricSum(m, 'faultgate_active_faults')).toBe(1);
    // Shutting faultgate down releases the hang (as a session abort would).
    await fg.fg.close(1000);
    await expect(pending).rejects.toThrow();
  });

  it('config experiments (seeded, probability 1) hit a tls_passthrough host of an intercepting listener', async () => {
    const up = await upstream();
    const fg = await interceptingFaultgate(
      { tls_passthrough: ['127.0.0.1'] },
      `tools:
  - { name: pinned, match: { host: 127.0.0.1 } }
experiments:
  - { name: cut, type: close, probability: 1, target: { tools: [pinned] } }
  - { name: slow-body, type: hallucination, probability: 1, target: { tools: [pinned] } }
chaos: { seed: 1 }
`,
    );
    await expect(
      request(`${up.url}/x`, { dispatcher: trustingAgent(fg.url, up.pki.caCert) }),
    ).rejects.toThrow();
    const m = await scrape(fg.adminUrl);
    expect(
      metricSum(m, 'faultgate_faults_injected_total', { tool: 'pinned', experiment: 'cut', fault: 'close' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricSum(m, 'faultgate_faults_skipped_total', { experiment: 'slow-body', fault: 'hallucination' }),
    ).toBeGreaterThanOrEqual(1);
    expect(metricSum(m, 'faultgate_tls_intercepted_total')).toBe(0);
  });
});

describe('tunnel faults and chaos sessions', () => {
  it('abort-all releases a tunnel held by a hang from the config session', async () => {
    const up = await upstream();
    const fg = await tunnelling(`tools:
  - { name: secure, match: { host: 127.0.0.1 } }
experiments:
  - { name: hold, type: timeout, probability: 1, target: { tools: [secure] }, config: { then: hang } }
`);
    const pending = tlsThroughProxy(fg.port, `127.0.0.1:${up.port}`, {
      ca: up.pki.caCert,
      host: '127.0.0.1',
    });
    pending.catch(() => {});
    await scrapeUntil(fg.adminUrl, (m) => metricSum(m, 'faultgate_active_faults') >= 1);
    const abort = await fetch(`${fg.adminUrl}/api/v1/chaos/abort-all`, { method: 'POST' });
    expect(abort.status).toBeLessThan(300);
    await expect(pending).rejects.toThrow(/socket disconnected|ECONNRESET/);
    const m = await scrapeUntil(fg.adminUrl, (m) => metricSum(m, 'faultgate_active_faults') === 0);
    expect(metricSum(m, 'faultgate_active_faults')).toBe(0);
    expect(
      metricSum(m, 'faultgate_requests_total', { tool: 'secure', outcome: 'failure', injected: 'true' }),
    ).toBe(1);
  });
});
