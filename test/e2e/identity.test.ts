import { createHash } from 'node:crypto';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configYaml, readAll, scrape, startFaultgate, startUpstream } from '../helpers/index.js';

const tools = `agents: { from: ["header:x-agent-id", proxy_user, client_ip], client_ips: { "127.0.0.1": local-agent } }
tenants: { from: ["header:x-tenant-id"], default: t0 }
tools:
  - name: weather
    match: { path: /mcp, mcp_tool: get_weather }
  - name: listing
    match: { path: /mcp, mcp_method: tools/list }
  - name: llm
    match: { host: "*.openai.test", path: "/v1/**", methods: [POST] }
  - name: search
    match: { path: /mcp, headers: { x-api: "v2*" } }
  - name: catchall-mcp
    match: { path: /mcp }
`;

describe('identity end to end', () => {
  it('names the MCP tool from the JSON-RPC body and replays the body byte-identical', async () => {
    const bodies: Buffer[] = [];
    const up = await startUpstream(async (req, res) => {
      bodies.push(await readAll(req as AsyncIterable<Buffer>));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    const { url, adminUrl } = await startFaultgate(configYaml({ upstream: up.url }, tools));
    // Odd spacing and key order on purpose: the upstream must get exactly these bytes.
    const call =
      '{ "jsonrpc":"2.0", "id": 7,"method":"tools/call","params":{"arguments":{"city":"Oslo"},"name":"get_weather"}}';
    const res = await request(`${url}/mcp`, {
      method: 'POST',
      body: call,
      headers: { 'content-type': 'application/json', 'x-agent-id': 'planner' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const list = '{"jsonrpc":"2.0","id":8,"method":"tools/list"}';
    await (
      await request(`${url}/mcp`, {
        method: 'POST',
        body: list,
        headers: { 'content-type': 'application/json' },
      })
    ).body.dump();
    // Mcp-Name header wins without reading the body.
    await (
      await request(`${url}/mcp`, {
        method: 'POST',
        body: '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"other"}}',
        headers: {
          'content-type': 'application/json',
          'mcp-method': 'tools/call',
          'mcp-name': 'get_weather',
          'x-agent-id': 'planner',
        },
      })
    ).body.dump();
    expect(bodies[0]!.toString()).toBe(call);
    expect(bodies[1]!.toString()).toBe(list);
    const m = await scrape(adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="planner",tool="weather",outcome="success",injected="false"}'),
    ).toBe(2);
    expect(
      m.get(
        'faultgate_requests_total{agent="local-agent",tool="listing",outcome="success",injected="false"}',
      ),
    ).toBe(1);
  });

  it('replays a body larger than mcp_peek_bytes unchanged and falls through to the next tool', async () => {
    const hashes: string[] = [];
    const up = await startUpstream(async (req, res) => {
      hashes.push(
        createHash('sha256')
          .update(await readAll(req as AsyncIterable<Buffer>))
          .digest('hex'),
      );
      res.end('ok');
    });
    const { url, adminUrl } = await startFaultgate(
      `${configYaml({ upstream: up.url }, tools)}limits: { mcp_peek_bytes: 1024 }\n`,
    );
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_weather', pad: 'x'.repeat(200_000) },
    });
    const res = await request(`${url}/mcp`, {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/json' },
    });
    expect(await res.body.text()).toBe('ok');
    expect(hashes[0]).toBe(createHash('sha256').update(big).digest('hex'));
    const m = await scrape(adminUrl);
    expect(
      m.get(
        'faultgate_requests_total{agent="local-agent",tool="catchall-mcp",outcome="success",injected="false"}',
      ),
    ).toBe(1);
  });

  it('matches host wildcards, methods and header globs, and resolves agent and tenant sources', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const { url, adminUrl } = await startFaultgate(configYaml({ upstream: up.url }, tools));
    const send = async (path: string, headers: Record<string, string>, method = 'POST') =>
      (await request(`${url}${path}`, { method, headers, body: method === 'GET' ? null : '' })).body.dump();
    await send('/v1/chat/completions', { host: 'api.openai.test', 'x-agent-id': 'coder' });
    await send('/v1/chat/completions', { host: 'api.openai.test', 'x-agent-id': 'coder' }, 'GET'); // method mismatch
    await send('/mcp', { 'x-api': 'v2.1', 'x-agent-id': 'coder' });
    await send('/mcp', { 'proxy-authorization': `Basic ${Buffer.from('reviewer:pw').toString('base64')}` });
    const m = await scrape(adminUrl);
    expect(
      m.get('faultgate_requests_total{agent="coder",tool="llm",outcome="success",injected="false"}'),
    ).toBe(1);
    expect(
      m.get('faultgate_requests_total{agent="coder",tool="unmatched",outcome="success",injected="false"}'),
    ).toBe(1);
    expect(
      m.get('faultgate_requests_total{agent="coder",tool="search",outcome="success",injected="false"}'),
    ).toBe(1);
    expect(
      m.get(
        'faultgate_requests_total{agent="reviewer",tool="catchall-mcp",outcome="success",injected="false"}',
      ),
    ).toBe(1);
  });
});
