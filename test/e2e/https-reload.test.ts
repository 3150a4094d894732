import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { formatProblem, loadConfigFile } from '../../src/config/load.js';
import { Faultgate } from '../../src/faultgate.js';
import { createLogger } from '../../src/observe/logger.js';
import { initCa } from '../../src/tls/ca.js';
import { scrape } from '../helpers/index.js';
import { httpsUpstream, trustingAgent } from '../helpers/intercept.js';
import { metricSum } from '../helpers/wire.js';

describe('reloading tls', () => {
  it('tls: tunnel -> intercept -> tunnel by hot reload applies to new CONNECTs', async () => {
    const up = await httpsUpstream((_req, res) => res.end('ok'));
    const dir = mkdtempSync(join(tmpdir(), 'faultgate-tls-reload-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await initCa(join(dir, 'ca'));
    const caPem = readFileSync(ca.cert, 'utf8');
    const file = join(dir, 'proxy.yaml');
    const text = (tls: string) => `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0", forward: true, tls: ${tls}, allow_hosts: ["127.0.0.1"] }]
admin: { listen: "127.0.0.1:0" }
ca: { dir: ./ca }
upstream: { ca_file: ${JSON.stringify(up.pki.caFile)} }
chaos: { header_overrides: true }
`;
    writeFileSync(file, text('tunnel'));
    const loaded = loadConfigFile(file);
    if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const fg = await Faultgate.start(loaded.config, { configPath: file, logger: createLogger('info', sink) });
    onTestFinished(() => fg.close(1000));
    const proxyUrl = fg.listeners[0]!.url;
    // Trusts both: the upstream (opaque tunnel) and faultgate's CA (interception).
    const get = async (fault?: string) => {
      const res = await request(`${up.url}/x`, {
        dispatcher: trustingAgent(proxyUrl, [up.pki.caCert, caPem]),
        headers: fault ? { 'x-faultgate-fault': fault } : {},
      });
      return { status: res.statusCode, body: await res.body.text() };
    };
    // An opaque tunnel cannot see the request header: no fault.
    expect(await get('error;status=503')).toEqual({ status: 200, body: 'ok' });
    writeFileSync(file, text('intercept'));
    expect((await fg.reload()).ok).toBe(true);
    expect((await get('error;status=503')).status).toBe(503);
    writeFileSync(file, text('tunnel'));
    expect((await fg.reload()).ok).toBe(true);
    expect(await get('error;status=503')).toEqual({ status: 200, body: 'ok' });
    const m = await scrape(fg.admin.url);
    expect(metricSum(m, 'faultgate_tls_intercepted_total')).toBe(1);
  });
});
