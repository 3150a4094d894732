import { describe, expect, it, vi } from 'vitest';
import {
  CompiledTool,
  type McpFacts,
  NEEDS_BODY,
  type RequestFacts,
  splitHost,
} from '../../src/identity/index.js';
import { pathIndexSuffix } from '../../src/identity/glob.js';
import { request, resolver } from './helpers.js';
import { SeededRng } from '../../src/chaos/rng.js';

/** Deterministic PRNG so a failing case can be replayed from its seed. */
/** The project's seeded PRNG (mulberry32) as a plain function. */
function mulberry32(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}

/** The definition of tool matching: every tool in config order, no index, no cache. */
function linear(
  tools: readonly CompiledTool[],
  facts: RequestFacts,
  mcp: McpFacts | null,
  bodyReadable: boolean,
  upstreamHost?: string,
): CompiledTool | undefined | typeof NEEDS_BODY {
  const alt = upstreamHost ? splitHost(upstreamHost) : undefined;
  for (const tool of tools) {
    if (!tool.matchesHost(facts.hostname, facts.port, alt?.hostname, alt?.port)) continue;
    if (!tool.matchesRequest(facts)) continue;
    if (!tool.needsMcp) return tool;
    if (mcp) {
      if (tool.matchesMcp(mcp)) return tool;
    } else if (bodyReadable) return NEEDS_BODY;
  }
  return undefined;
}

const HOSTS = [undefined, 'a.test', '*.a.test', 'b.test:8080', 'b.test'];
const PATHS = [
  undefined,
  '/',
  '/v1',
  '/v1/',
  '/v1/**',
  '/v1/*',
  '/v1/chat/completions',
  '/v1/chat/*',
  '/v1/chat/**',
  '/v?/chat',
  '/**',
  '/*',
  '/v1/*/items',
  '/mcp',
  '/a/**/z',
  '/v1**',
  '/*/chat',
  '/*/*/completions',
  '/v1/**/items',
  '/v1/*/',
  '/**/items',
  '/**/completions',
  '/*/**/z',
  '/**/',
  '/v1/**/chat/completions',
];
const REQUEST_HOSTS = ['a.test', 'x.a.test', 'b.test:8080', 'b.test', 'c.other:9000'];
const REQUEST_PATHS = [
  '/',
  '',
  '/v1',
  '/v1/',
  '/v1/chat',
  '/v1/chat/',
  '/v1/chat/completions',
  '/v1/chat/completions/x',
  '/v2/chat',
  '/v1/x/items',
  '/v1x',
  '/mcp',
  '/mcp/',
  '/a/z',
  '/a/b/z',
  '//v1',
  '/items',
  '/x/y/items',
  '/v1/chat/completions/',
  '/v1/a/chat/completions',
  '/q/z',
];

describe('ToolIndex agrees with a linear scan in config order', () => {
  it('for random tool lists and requests', () => {
    let compared = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rng = mulberry32(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
      const tools = Array.from({ length: 1 + Math.floor(rng() * 25) }, (_, i) => {
        const match: Record<string, unknown> = {};
        const host = pick(HOSTS);
        const path = pick(PATHS);
        if (host) match.host = host;
        if (path) match.path = path;
        if (rng() < 0.3) match.methods = [pick(['GET', 'POST'])];
        if (rng() < 0.2) match.headers = { 'x-api': pick(['v2*', 'v1']) };
        if (rng() < 0.15) match.mcp_tool = pick(['w', 's']);
        return { name: `t${i}`, match };
      });
      const upstreamHost = rng() < 0.3 ? pick(['a.test', 'b.test:8080']) : undefined;
      const r = resolver({ tools });
      const index = r.toolIndex(upstreamHost);
      for (let n = 0; n < 150; n++) {
        const headers = rng() < 0.5 ? { 'x-api': pick(['v2.1', 'v1']) } : {};
        const facts = request(pick(REQUEST_HOSTS), pick(REQUEST_PATHS), pick(['GET', 'POST']), headers);
        const mcp = rng() < 0.5 ? null : { method: 'tools/call', tool: pick(['w', 's', undefined]) };
        const readable = rng() < 0.5;
        const want = linear(r.tools, facts, mcp, readable, upstreamHost);
        const got = index.match(facts, mcp, readable);
        const name = (m: typeof got) => (typeof m === 'object' ? m.name : m);
        expect(
          name(got),
          `seed ${seed} request ${n}: ${facts.method} ${facts.hostname}:${facts.port}${facts.path}`,
        ).toBe(name(want));
        compared++;
      }
    }
    expect(compared).toBe(150 * 150);
  });

  it('keeps config order when tools sit at different depths of the path index', () => {
    const r = resolver({
      tools: [
        { name: 'exact', match: { path: '/v1/chat/completions', methods: ['PUT'] } },
        { name: 'deep', match: { path: '/v1/chat/*', methods: ['POST'] } },
        { name: 'any-path', match: { methods: ['POST'] } },
        { name: 'v1', match: { path: '/v1/**' } },
        { name: 'root', match: { path: '/**' } },
      ],
    });
    const index = r.toolIndex();
    const name = (method: string, path: string) => {
      const m = index.match(request('h.test', path, method), null, false);
      return typeof m === 'object' ? m.name : m;
    };
    expect(name('PUT', '/v1/chat/completions')).toBe('exact');
    expect(name('POST', '/v1/chat/completions')).toBe('deep');
    expect(name('POST', '/v2')).toBe('any-path');
    expect(name('GET', '/v1/chat/completions')).toBe('v1');
    expect(name('GET', '/v2/x')).toBe('root');
  });
});

describe('a ** in the middle of a glob', () => {
  it('is indexed by the literal last segment: other tools are not even tried', () => {
    // 100 MCP-style tools behind a `**`: before, every one of them sat at the root and ran its glob.
    const tools = Array.from({ length: 100 }, (_, i) => ({ name: `t${i}`, match: { path: `/**/op${i}` } }));
    const r = resolver({ tools: [...tools, { name: 'items', match: { path: '/v1/**/items' } }] });
    const index = r.toolIndex();
    const tried = vi.spyOn(CompiledTool.prototype, 'matchesRequest');
    try {
      const hit = index.match(request('h.test', '/a/b/op57'), null, false);
      expect(typeof hit === 'object' && hit.name).toBe('t57');
      expect(tried).toHaveBeenCalledTimes(1);
      tried.mockClear();
      const deep = index.match(request('h.test', '/v1/x/y/items'), null, false);
      expect(typeof deep === 'object' && deep.name).toBe('items');
      expect(tried).toHaveBeenCalledTimes(1);
      tried.mockClear();
      expect(index.match(request('h.test', '/v2/items'), null, false)).toBeUndefined();
      expect(tried).toHaveBeenCalledTimes(0);
    } finally {
      tried.mockRestore();
    }
  });

  it('keys only a literal last segment that the prefix does not reach', () => {
    expect(pathIndexSuffix('/**/completions')).toBe('completions');
    expect(pathIndexSuffix('/v1/**/items')).toBe('items');
    expect(pathIndexSuffix('/v1/**')).toBeUndefined();
    expect(pathIndexSuffix('/**/op?')).toBeUndefined();
    expect(pathIndexSuffix('/v1/chat/completions')).toBeUndefined();
    expect(pathIndexSuffix('/v1/*/items')).toBeUndefined();
    expect(pathIndexSuffix('/v1**/x')).toBe('x');
  });
});
