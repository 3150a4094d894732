import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { request } from 'undici';
import { configYaml, scrape, startFaultgate, startUpstream, waitFor } from '../helpers/index.js';

/**
 * Writes raw bytes, returns everything received until the server closes (the requests say
 * `Connection: close`); `ms` is only a failsafe against a hang, far above a loaded runner's pace.
 */
function raw(port: number, bytes: string, ms = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let text = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => {
      text += d.toString();
    });
    s.on('close', done);
    s.on('error', done);
  });
}

describe('wire rules', () => {
  it('absolute-form requests carry the target as Host, whatever the client sent', async () => {
    let seen: IncomingHttpHeaders = {};
    const up = await startUpstream((req, res) => {
      seen = req.headers;
      res.end('ok');
    });
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    const reply = await raw(
      fg.port,
      `GET http://127.0.0.1:${up.port}/x HTTP/1.1\r\nHost: internal.admin\r\nConnection: close\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(seen.host).toBe(`127.0.0.1:${up.port}`);
  });

  it('inside a CONNECT tunnel an absolute-form target only names a path on the tunnel host', async () => {
    let seenUrl = '';
    const up = await startUpstream((req, res) => {
      seenUrl = req.url ?? '';
      res.end('ok');
    });
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['127.0.0.1'] }));
    const reply = await raw(
      fg.port,
      `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n` +
        'GET http://10.9.9.9/zz?q=1 HTTP/1.1\r\nHost: 10.9.9.9\r\nConnection: close\r\n\r\n',
    );
    expect(reply).toContain('HTTP/1.1 200 Connection Established');
    expect(reply).toMatch(/HTTP\/1\.1 200 OK/);
    expect(seenUrl).toBe('/zz?q=1');
  });

  it('default ports count for allow_hosts in absolute-form as in CONNECT', async () => {
    const fg = await startFaultgate(configYaml({ forward: true, allow_hosts: ['blocked.invalid:443'] }));
    const reply = await raw(
      fg.port,
      'GET http://blocked.invalid/ HTTP/1.1\r\nHost: blocked.invalid\r\nConnection: close\r\n\r\n',
    );
    // Port 80 is not port 443: denied before any lookup.
    expect(reply).toMatch(/^HTTP\/1\.1 403/);
    expect(reply).toContain('FAULTGATE_ERR_FORWARD_DENIED');
  });

  it('rejects experiment names and fault headers that cannot travel in HTTP headers', () => {
    const r = parseConfig(
      't.yaml',
      `version: 1
listeners: [{ name: main, listen: "127.0.0.1:0" }]
experiments:
  - { name: "задержка", type: latency, config: { min_ms: 1 } }
  - { name: ok, type: replace, config: { headers: { "bad header": "x", x-ok: "line\\nbreak" } } }
`,
      {},
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    expect(paths).toContain('experiments[0].name');
    expect(paths.some((p) => p.startsWith('experiments[1].config.headers'))).toBe(true);
  });

  it('releases a pipelined hang when its socket dies (active faults back to 0)', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const fg = await startFaultgate(configYaml({ upstream: up.url }, 'chaos: { header_overrides: true }\n'));
    const req = 'GET /a HTTP/1.1\r\nHost: x\r\nX-Faultgate-Fault: timeout;then=hang\r\n\r\n';
    const socket = connect(fg.port, '127.0.0.1', () => socket.write(req + req));
    socket.on('error', () => {});
    // The socket dies once both hangs are in force, the second one's response queued behind the first.
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 2, 5000, 'both hangs to begin');
    socket.destroy();
    await waitFor(() => fg.fg.metrics.faults.activeCount() === 0, 5000, 'active faults released');
  });
});

describe('body faults that did not act', () => {
  it('count the exchange as a success (nothing was broken)', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('short');
    });
    const fg = await startFaultgate(configYaml({ upstream: up.url }, 'chaos: { header_overrides: true }\n'));
    for (const fault of [
      'malformed;kind=json_syntax',
      'truncate;after_bytes=1000',
      'reset;phase=mid_body;after_bytes=1000',
    ]) {
      const res = await request(`${fg.url}/x`, { headers: { 'x-faultgate-fault': fault } });
      expect(await res.body.text()).toBe('short');
    }
    const m = await scrape(fg.adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="unmatched",outcome="success",injected="true"}'),
    ).toBe(3);
    expect(
      m.get('faultgate_requests_total{agent="127.0.0.1",tool="unmatched",outcome="failure",injected="true"}'),
    ).toBeUndefined();
  });
});
