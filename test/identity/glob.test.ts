import { describe, expect, it } from 'vitest';
import {
  compileHostPattern,
  compilePathGlob,
  compileValueGlob,
  splitHost,
} from '../../src/identity/index.js';

/** `[glob, matching paths, non-matching paths]` */
const pathCases: [string, string[], string[]][] = [
  ['/mcp', ['/mcp'], ['/mcp/', '/MCP', '/mcp/x', '/mc', '/mcpx']],
  ['/v1/*', ['/v1/x', '/v1/chat', '/v1/'], ['/v1', '/v1/x/y', '/v2/x', '/v10']],
  ['/v1/*/completions', ['/v1/chat/completions'], ['/v1/completions', '/v1/a/b/completions']],
  ['/v1/**', ['/v1', '/v1/', '/v1/x', '/v1/a/b/c'], ['/v10', '/v2/a', '/', '/v']],
  ['/a/**/z', ['/a/z', '/a/b/z', '/a/b/c/z'], ['/a/bz', '/a/z/x', '/az']],
  ['/**', ['/', '/a', '/a/b'], []],
  ['/v1**', ['/v1', '/v1x', '/v1/a/b'], ['/v2']],
  ['/v?/x', ['/v1/x', '/vv/x'], ['/v/x', '/v12/x', '/v//x']],
  ['/files/*.json', ['/files/a.json', '/files/.json'], ['/files/ajson', '/files/a/b.json', '/files/a.jsonx']],
  ['/a+b/*/(x)|y.$', ['/a+b/q/(x)|y.$'], ['/aab/q/(x)|y.$', '/a+b/q/x', '/a+b/q/(x)|yx$', '/a+b/q/']],
  ['/[abc]/{n}/^*', ['/[abc]/{n}/^', '/[abc]/{n}/^x'], ['/a/{n}/^', '/[abc]/nn/^x', '/b/{n}/x']],
  ['/back\\slash/*', ['/back\\slash/x'], ['/backslash/x', '/back/slash/x']],
];

describe('path globs', () => {
  it.each(pathCases)('%s', (glob, yes, no) => {
    const match = compilePathGlob(glob);
    for (const path of yes) expect(match(path), `${glob} should match ${path}`).toBe(true);
    for (const path of no) expect(match(path), `${glob} should not match ${path}`).toBe(false);
  });
});

describe('value globs (header values, names)', () => {
  it.each([
    ['*', ['', 'anything', 'a\nb'], []],
    ['v2*', ['v2', 'v2.1', 'v2/beta'], ['v1', 'xv2', 'V2']],
    ['*bearer*', ['bearer', 'a bearer b'], ['Bearer']],
    ['a?c', ['a?c'], ['abc']],
    ['1.0', ['1.0'], ['1x0']],
    ['a*', ['a\nb'], ['b']],
    ['(x)+[y]*', ['(x)+[y]z'], ['xx[y]']],
  ] as [string, string[], string[]][])('%s', (glob, yes, no) => {
    const match = compileValueGlob(glob);
    for (const v of yes) expect(match(v), `${glob} should match ${JSON.stringify(v)}`).toBe(true);
    for (const v of no) expect(match(v), `${glob} should not match ${JSON.stringify(v)}`).toBe(false);
  });
});

describe('host patterns', () => {
  const host = (pattern: string, target: string) => {
    const { hostname, port } = splitHost(target);
    return compileHostPattern(pattern)(hostname, port);
  };

  it('splits host[:port] and [v6]:port, lower-casing the name', () => {
    expect(splitHost('Example.COM:80')).toEqual({ hostname: 'example.com', port: '80' });
    expect(splitHost('example.com')).toEqual({ hostname: 'example.com', port: '' });
    expect(splitHost('[::1]:8080')).toEqual({ hostname: '[::1]', port: '8080' });
    expect(splitHost('[FE80::1]')).toEqual({ hostname: '[fe80::1]', port: '' });
    expect(splitHost('::1')).toEqual({ hostname: '::1', port: '' });
    expect(splitHost('')).toEqual({ hostname: '', port: '' });
  });

  it('matches an exact host on any port when the pattern has none', () => {
    expect(host('api.openai.com', 'api.openai.com')).toBe(true);
    expect(host('api.openai.com', 'api.openai.com:443')).toBe(true);
    expect(host('api.openai.com', 'api.openai.com:8443')).toBe(true);
    expect(host('api.openai.com', 'x.api.openai.com')).toBe(false);
    expect(host('api.openai.com', 'openai.com')).toBe(false);
    expect(host('api.openai.com', 'api.openai.com.evil')).toBe(false);
  });

  it('requires the port when the pattern names one', () => {
    expect(host('api.openai.com:8443', 'api.openai.com:8443')).toBe(true);
    expect(host('api.openai.com:8443', 'api.openai.com')).toBe(false);
    expect(host('api.openai.com:8443', 'api.openai.com:443')).toBe(false);
  });

  it('matches *. wildcards on subdomains only, never the bare domain', () => {
    expect(host('*.openai.com', 'api.openai.com')).toBe(true);
    expect(host('*.openai.com', 'a.b.openai.com:443')).toBe(true);
    expect(host('*.openai.com', 'openai.com')).toBe(false);
    expect(host('*.openai.com', 'evilopenai.com')).toBe(false);
    expect(host('*.openai.com', '.openai.com')).toBe(false);
    expect(host('*.openai.com:443', 'api.openai.com:443')).toBe(true);
    expect(host('*.openai.com:443', 'api.openai.com:80')).toBe(false);
  });

  it('matches bracketed IPv6 hosts with and without a port', () => {
    expect(host('[::1]', '[::1]:8080')).toBe(true);
    expect(host('[::1]', '[::1]')).toBe(true);
    expect(host('[::1]:8080', '[::1]:8080')).toBe(true);
    expect(host('[::1]:8080', '[::1]:9090')).toBe(false);
    expect(host('[::1]', '[::2]')).toBe(false);
  });

  it('is case-insensitive on both sides', () => {
    expect(host('API.OpenAI.com', 'api.openai.com')).toBe(true);
    expect(host('api.openai.com', 'API.OPENAI.COM:443')).toBe(true);
    expect(host('*.OpenAI.com', 'Api.OPENAI.com')).toBe(true);
  });
});

describe('IPv6 host patterns', () => {
  it('match bracketed request hosts whether or not the pattern has brackets', () => {
    expect(compileHostPattern('::1')('[::1]', '8080')).toBe(true);
    expect(compileHostPattern('[::1]')('[::1]', '')).toBe(true);
    expect(compileHostPattern('[::1]:8080')('[::1]', '8080')).toBe(true);
    expect(compileHostPattern('[::1]:8080')('[::1]', '9090')).toBe(false);
    expect(compileHostPattern('::1')('127.0.0.1', '')).toBe(false);
  });
});
