import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { readAll, scrape } from '../helpers/index.js';
import { httpsUpstream, interceptingFaultgate, trustingAgent } from '../helpers/intercept.js';
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
