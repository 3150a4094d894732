import { describe, expect, it } from 'vitest';
import {
  type CompiledTool,
  mcpFromBody,
  mcpFromHeaders,
  NEEDS_BODY,
  normalizeAddress,
  proxyUserFrom,
  type ToolIndex,
} from '../../src/identity/index.js';
import { basic, peer, request, resolver } from './helpers.js';

const nameOf = (m: CompiledTool | undefined | typeof NEEDS_BODY): string | symbol | undefined =>
  typeof m === 'object' ? m.name : m;

function tools(list: { name: string; match?: Record<string, unknown> }[], upstreamHost?: string): ToolIndex {
  return resolver({ tools: list }).toolIndex(upstreamHost);
}

describe('tool matching', () => {
  it('tries tools in order and the first match wins', () => {
    const broad = { name: 'broad', match: { path: '/v1/**' } };
    const narrow = { name: 'narrow', match: { path: '/v1/chat' } };
    expect(nameOf(tools([broad, narrow]).match(request('a.test', '/v1/chat'), null, false))).toBe('broad');
    expect(nameOf(tools([narrow, broad]).match(request('a.test', '/v1/chat'), null, false))).toBe('narrow');
  });

  it('answers undefined when nothing matches', () => {
    const index = tools([{ name: 'llm', match: { host: 'api.openai.com', path: '/v1/**' } }]);
    expect(index.match(request('api.openai.com', '/v2/x'), null, true)).toBeUndefined();
    expect(index.match(request('other.test', '/v1/x'), null, true)).toBeUndefined();
    expect(tools([]).match(request('a.test'), null, true)).toBeUndefined();
  });

  it('matches any request with an empty matcher', () => {
    expect(nameOf(tools([{ name: 'all' }]).match(request('x.test', '/a/b', 'DELETE'), null, true))).toBe(
      'all',
    );
  });

  it('matches methods case-insensitively in the config', () => {
    const index = tools([{ name: 'post', match: { methods: ['post', 'Put'] } }]);
    expect(nameOf(index.match(request('a.test', '/', 'POST'), null, false))).toBe('post');
    expect(nameOf(index.match(request('a.test', '/', 'PUT'), null, false))).toBe('post');
    expect(index.match(request('a.test', '/', 'GET'), null, false)).toBeUndefined();
  });

  it('matches header values by glob; header names are case-insensitive; all must match', () => {
    const index = tools([{ name: 'v2', match: { headers: { 'X-Api': 'v2*', accept: '*json*' } } }]);
    const ok = { 'x-api': 'v2.1', accept: 'application/json' };
    expect(nameOf(index.match(request('a.test', '/', 'GET', ok), null, false))).toBe('v2');
    expect(index.match(request('a.test', '/', 'GET', { ...ok, 'x-api': 'v1' }), null, false)).toBeUndefined();
    expect(index.match(request('a.test', '/', 'GET', { 'x-api': 'v2' }), null, false)).toBeUndefined();
    const joined = { 'x-api': 'v2', accept: ['text/html', 'application/json'] } as never;
    expect(nameOf(index.match(request('a.test', '/', 'GET', joined), null, false))).toBe('v2');
  });

  it('combines host, path, method and headers', () => {
    const index = tools([
      { name: 'llm', match: { host: '*.openai.com', path: '/v1/**', methods: ['POST'] } },
      { name: 'search', match: { host: 'search.internal:8443', headers: { 'x-api': 'v2*' } } },
      { name: 'rest' },
    ]);
    const cases: [string, string, string, Record<string, string>, string][] = [
      ['api.openai.com', '/v1/chat/completions', 'POST', {}, 'llm'],
      ['api.openai.com', '/v1/chat/completions', 'GET', {}, 'rest'],
      ['openai.com', '/v1/chat/completions', 'POST', {}, 'rest'],
      ['search.internal:8443', '/q', 'GET', { 'x-api': 'v2' }, 'search'],
      ['search.internal', '/q', 'GET', { 'x-api': 'v2' }, 'rest'],
      ['SEARCH.internal:8443', '/q', 'GET', { 'x-api': 'v2' }, 'search'],
    ];
    for (const [host, path, method, headers, want] of cases) {
      expect(
        nameOf(index.match(request(host, path, method, headers), null, false)),
        `${method} ${host}${path}`,
      ).toBe(want);
    }
  });

  it('explains each matcher in one line', () => {
    const r = resolver({
      tools: [
        { name: 'llm', match: { host: 'api.openai.com', path: '/v1/**', methods: ['POST'] } },
        { name: 'w', match: { headers: { 'x-api': 'v2*' }, mcp_tool: 'get_weather' } },
        { name: 'any' },
      ],
    });
    expect(r.tools.map((t) => t.explain())).toEqual([
      'llm: host=api.openai.com path=/v1/** methods=POST',
      'w: header x-api=v2* mcp_tool=get_weather',
      'any: any request',
    ]);
    expect(r.toolsByName.get('w')?.index).toBe(1);
  });
});

describe('MCP', () => {
  const mcpTools = [
    { name: 'rest', match: { path: '/api/**' } },
    { name: 'weather', match: { path: '/mcp', mcp_tool: 'get_weather' } },
    { name: 'listing', match: { path: '/mcp', mcp_method: 'tools/list' } },
    { name: 'mcp-other', match: { path: '/mcp' } },
  ];

  it('reads Mcp-Method and Mcp-Name headers', () => {
    expect(mcpFromHeaders({})).toBeNull();
    expect(mcpFromHeaders({ 'mcp-name': 'get_weather' })).toEqual({
      method: 'tools/call',
      tool: 'get_weather',
    });
    expect(mcpFromHeaders({ 'mcp-method': 'initialize' })).toEqual({ method: 'initialize', tool: undefined });
    expect(mcpFromHeaders({ 'mcp-method': 'tools/call', 'mcp-name': 'x' })).toEqual({
      method: 'tools/call',
      tool: 'x',
    });
  });

  it('reads the JSON-RPC body: tools/call, batches, other methods, invalid JSON', () => {
    const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_weather', arguments: {} },
    };
    expect(mcpFromBody(body(call))).toMatchObject({ method: 'tools/call', tool: 'get_weather' });
    expect(mcpFromBody(body([{ jsonrpc: '2.0', id: 7, result: {} }, call]))).toMatchObject({
      method: 'tools/call',
      tool: 'get_weather',
    });
    expect(mcpFromBody(body({ jsonrpc: '2.0', id: 2, method: 'tools/list' }))).toMatchObject({
      method: 'tools/list',
      tool: undefined,
    });
    expect(mcpFromBody(body({ method: 'prompts/get', params: { name: 'p' } }))).toMatchObject({
      method: 'prompts/get',
      tool: undefined,
    });
    expect(mcpFromBody(body({ method: 'tools/call', params: { name: 42 } }))).toMatchObject({
      method: 'tools/call',
      tool: undefined,
    });
    for (const junk of ['{"method": "tools/call", "params": {', 'null', '[]', '"tools/call"', '']) {
      const facts = mcpFromBody(body(junk));
      expect(facts.method, junk).toBeUndefined();
      expect(facts.tool, junk).toBeUndefined();
    }
  });

  it('asks for the body only when a tool with an MCP matcher is reached and the body is readable', () => {
    const index = tools(mcpTools);
    const post = (path: string) => request('mcp.test', path, 'POST');
    expect(index.match(post('/mcp'), null, true)).toBe(NEEDS_BODY);
    // Not readable (no JSON body): MCP tools are skipped, the next plain matcher applies.
    expect(nameOf(index.match(post('/mcp'), null, false))).toBe('mcp-other');
    // An earlier plain tool matches first: no body needed.
    expect(nameOf(index.match(post('/api/x'), null, true))).toBe('rest');
    // No tool with an MCP matcher can apply to this path.
    expect(index.match(post('/elsewhere'), null, true)).toBeUndefined();
  });

  it('matches mcp_tool and mcp_method once the facts are known', () => {
    const index = tools(mcpTools);
    const post = request('mcp.test', '/mcp', 'POST');
    expect(nameOf(index.match(post, { method: 'tools/call', tool: 'get_weather' }, true))).toBe('weather');
    expect(nameOf(index.match(post, { method: 'tools/call', tool: 'search' }, true))).toBe('mcp-other');
    expect(nameOf(index.match(post, { method: 'tools/list', tool: undefined }, true))).toBe('listing');
    expect(nameOf(index.match(post, { method: undefined, tool: undefined }, true))).toBe('mcp-other');
  });

  it('resolves by headers first, else by body, as the proxy does', () => {
    const index = tools(mcpTools);
    const viaHeaders = request('mcp.test', '/mcp', 'POST', { 'mcp-name': 'get_weather' });
    expect(nameOf(index.match(viaHeaders, mcpFromHeaders(viaHeaders.headers), true))).toBe('weather');
    const viaBody = request('mcp.test', '/mcp', 'POST');
    expect(index.match(viaBody, mcpFromHeaders(viaBody.headers), true)).toBe(NEEDS_BODY);
    const body = Buffer.from(
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_weather"}}',
    );
    expect(nameOf(index.match(viaBody, mcpFromBody(body), false))).toBe('weather');
  });
});

describe('reverse mode: the listener upstream host', () => {
  it('lets a host matcher naming the upstream host match requests addressed to faultgate', () => {
    const list = [
      { name: 'llm', match: { host: 'api.openai.com', path: '/v1/**' } },
      { name: 'anthropic', match: { host: '*.anthropic.com' } },
    ];
    const local = request('127.0.0.1:8080', '/v1/chat/completions', 'POST');
    expect(tools(list).match(local, null, false)).toBeUndefined();
    expect(nameOf(tools(list, 'api.openai.com').match(local, null, false))).toBe('llm');
    expect(
      nameOf(tools(list, 'api.anthropic.com:443').match(request('localhost:8080', '/x'), null, false)),
    ).toBe('anthropic');
    expect(tools(list, 'example.com').match(local, null, false)).toBeUndefined();
  });

  it('honours a port in the tool host against the upstream port', () => {
    const list = [{ name: 'tls', match: { host: 'api.test:443' } }];
    expect(nameOf(tools(list, 'api.test:443').match(request('127.0.0.1:8080'), null, false))).toBe('tls');
    expect(tools(list, 'api.test:8443').match(request('127.0.0.1:8080'), null, false)).toBeUndefined();
  });

  it('still matches the request host itself', () => {
    const list = [{ name: 'direct', match: { host: 'search.internal' } }];
    expect(nameOf(tools(list, 'api.openai.com').match(request('search.internal'), null, false))).toBe(
      'direct',
    );
  });
});

describe('per-host candidate cache', () => {
  it('stays bounded and correct across more distinct hosts than it holds', () => {
    const index = tools([
      { name: 'exact', match: { host: 'h42.example.com' } },
      { name: 'ported', match: { host: 'h7.example.com:8443' } },
      { name: 'wild', match: { host: '*.example.com' } },
      { name: 'rest' },
    ]);
    const expected = (i: number, port: string) =>
      i === 42 ? 'exact' : i === 7 && port === '8443' ? 'ported' : 'wild';
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6000; i++) {
        const port = i % 3 === 0 ? '8443' : '';
        const host = port ? `h${i}.example.com:${port}` : `h${i}.example.com`;
        expect(nameOf(index.match(request(host), null, false))).toBe(expected(i, port));
        expect(nameOf(index.match(request(`h${i}.other.test`), null, false))).toBe('rest');
      }
    }
    expect(nameOf(index.match(request('h7.example.com:8443'), null, false))).toBe('ported');
    // White-box: the cache is a Map of host -> candidates; it must not grow with the host count.
    const cache = (index as unknown as { byHost: Map<string, unknown> }).byHost;
    expect(cache).toBeInstanceOf(Map);
    expect(cache.size).toBeLessThanOrEqual(4096);
  });
});

describe('Proxy-Authorization and client addresses', () => {
  it('takes the username of a Basic Proxy-Authorization', () => {
    expect(proxyUserFrom(basic('planner:'))).toBe('planner');
    expect(proxyUserFrom(basic('planner:secret:with:colons'))).toBe('planner');
    expect(proxyUserFrom(basic('planner'))).toBe('planner');
    expect(proxyUserFrom(`basic  ${Buffer.from('planner:').toString('base64')}`)).toBe('planner');
    expect(proxyUserFrom(basic('my%20agent%40team:pw'))).toBe('my agent@team');
    expect(proxyUserFrom(basic('caf%C3%A9:'))).toBe('café');
  });

  it('answers the same on repeated calls (decoded users are remembered)', () => {
    for (let i = 0; i < 3; i++) {
      expect(proxyUserFrom(basic('planner:'))).toBe('planner');
      expect(proxyUserFrom(basic(':only-password'))).toBeUndefined();
      expect(proxyUserFrom('Bearer abc')).toBeUndefined();
    }
    for (let i = 0; i < 600; i++) expect(proxyUserFrom(basic(`agent-${i}:`))).toBe(`agent-${i}`);
    expect(proxyUserFrom(basic(`${'x'.repeat(2000)}:`))).toBe('x'.repeat(2000));
  });

  it('never throws on what a client sends', () => {
    expect(proxyUserFrom(basic('%zz:pw'))).toBe('%zz');
    expect(proxyUserFrom(basic('100%:'))).toBe('100%');
    expect(proxyUserFrom(basic(':pw'))).toBeUndefined();
    expect(proxyUserFrom('Bearer abc')).toBeUndefined();
    expect(proxyUserFrom('Basic')).toBeUndefined();
    // Node's base64 decoder is lenient: junk decodes to junk, which is a name, not a crash.
    expect(() => proxyUserFrom('Basic !!!not-base64')).not.toThrow();
    expect(proxyUserFrom('')).toBeUndefined();
    expect(proxyUserFrom(undefined)).toBeUndefined();
  });

  it('normalises IPv4-mapped IPv6 addresses', () => {
    expect(normalizeAddress('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(normalizeAddress('10.0.0.7')).toBe('10.0.0.7');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(normalizeAddress(undefined)).toBe('');
  });
});

describe('agent and tenant', () => {
  const r = resolver({
    agents: {
      from: ['header:X-Agent-Id', 'proxy_user', 'client_ip'],
      client_ips: { '10.0.0.7': 'planner', '::1': 'local' },
    },
    tenants: {
      from: ['header:x-tenant-id', 'client_ip'],
      client_ips: { '10.0.0.7': 'acme' },
      default: 'shared',
    },
  });

  it('takes the first source that yields a value, in the configured order', () => {
    expect(r.agent(peer('10.0.0.7', { 'x-agent-id': 'coder' }, 'writer'))).toBe('coder');
    expect(r.agent(peer('10.0.0.7', {}, 'writer'))).toBe('writer');
    expect(r.agent(peer('10.0.0.7'))).toBe('planner');
    expect(r.agent(peer('::1'))).toBe('local');
  });

  it('skips empty values', () => {
    expect(r.agent(peer('10.0.0.7', { 'x-agent-id': '' }, ''))).toBe('planner');
    expect(r.agent(peer('', { 'x-agent-id': '' }))).toBe('unknown');
  });

  it('uses the first of repeated header values', () => {
    expect(r.agent(peer('10.0.0.7', { 'x-agent-id': ['a', 'b'] } as never))).toBe('a');
  });

  it('names an unmapped client by its address', () => {
    expect(r.agent(peer('10.0.0.8'))).toBe('10.0.0.8');
    expect(r.agent(peer(normalizeAddress('::ffff:10.0.0.7')))).toBe('planner');
  });

  it('derives the proxy user from Proxy-Authorization as the proxy does', () => {
    expect(r.agent(peer('10.0.0.8', {}, proxyUserFrom(basic('planner:'))))).toBe('planner');
  });

  it('resolves tenants from their own sources and client_ips, with a default', () => {
    expect(r.tenant(peer('10.0.0.7', { 'x-tenant-id': 't1' }))).toBe('t1');
    expect(r.tenant(peer('10.0.0.7'))).toBe('acme');
    expect(r.tenant(peer('10.0.0.9'))).toBe('10.0.0.9');
    expect(r.tenant(peer(''))).toBe('shared');
  });

  it('falls back to the defaults', () => {
    const d = resolver({});
    expect(d.agent(peer('10.1.1.1'))).toBe('10.1.1.1');
    expect(d.agent(peer(''))).toBe('unknown');
    expect(d.tenant(peer('10.1.1.1'))).toBe('default');
    expect(d.tenant(peer('10.1.1.1', { 'x-tenant-id': 'acme' }))).toBe('acme');
    const only = resolver({ agents: { from: ['header:x-agent-id'], default: 'anon' } });
    expect(only.agent(peer('10.0.0.7', {}, 'planner'))).toBe('anon');
  });

  it('can use the proxy user as a tenant source', () => {
    const t = resolver({ tenants: { from: ['proxy_user'] } });
    expect(t.tenant(peer('10.0.0.7', {}, 'acme'))).toBe('acme');
    expect(t.tenant(peer('10.0.0.7'))).toBe('default');
  });
});
