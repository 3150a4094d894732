/** The environment `faultgate run` hands its command, and the config it starts with. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunConfig } from '../../src/run/config.js';
import { PRELOAD_PATH, preloadOption, proxyUrl, reachable, runEnv } from '../../src/run/env.js';
import { tempDir } from './fixtures.js';

const bound = (name: string, host: string, port: number) => ({
  name,
  host,
  port,
  url: `http://${host}:${port}`,
});
const listener = (over: Record<string, unknown> = {}) =>
  ({ name: 'main', listen: '127.0.0.1:0', forward: true, tls: 'tunnel', allow_hosts: [], ...over }) as never;

describe('runEnv', () => {
  it('sets the proxy variables with NAME:x@ credentials, NO_PROXY, the admin URL and the Node preload', () => {
    const { env, proxy } = runEnv({
      config: { listeners: [listener({ forward: false }), listener()], ca: { dir: '/ca' } },
      listeners: [bound('rev', '127.0.0.1', 1000), bound('fwd', '0.0.0.0', 2000)],
      admin: bound('admin', '127.0.0.1', 3000),
      agent: 'my agent/1',
      base: { PATH: '/bin', NO_PROXY: 'localhost,127.0.0.1', NODE_OPTIONS: '--max-old-space-size=100' },
    });
    expect(proxy).toBe('http://my%20agent%2F1:x@127.0.0.1:2000');
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) expect(env[k]).toBe(proxy);
    expect(env).toMatchObject({
      PATH: '/bin',
      NO_PROXY: '127.0.0.1:3000',
      no_proxy: '127.0.0.1:3000',
      FAULTGATE_ADMIN_URL: 'http://127.0.0.1:3000',
      FAULTGATE_URL: 'http://127.0.0.1:1000',
      NODE_USE_ENV_PROXY: '1',
      NODE_OPTIONS: `${preloadOption()} --max-old-space-size=100`,
    });
    expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
    expect(PRELOAD_PATH).toMatch(/run[/\\]preload\.(js|ts)$/);
  });

  it('sets the CA variables from ca.dir when a listener intercepts TLS', () => {
    const { env } = runEnv({
      config: { listeners: [listener({ tls: 'intercept' })], ca: { dir: '/var/ca' } },
      listeners: [bound('main', '::', 2000)],
      admin: bound('admin', '::1', 3000),
      agent: 'a',
      base: {},
    });
    expect(env).toMatchObject({
      NODE_EXTRA_CA_CERTS: join('/var/ca', 'ca.pem'),
      SSL_CERT_FILE: join('/var/ca', 'bundle.pem'),
      REQUESTS_CA_BUNDLE: join('/var/ca', 'bundle.pem'),
      CURL_CA_BUNDLE: join('/var/ca', 'bundle.pem'),
      HTTP_PROXY: 'http://a:x@[::1]:2000',
      NO_PROXY: '[::1]:3000',
    });
  });

  it('without a forward listener sets no proxy variables (the agent uses FAULTGATE_URL)', () => {
    const { env, proxy } = runEnv({
      config: { listeners: [listener({ forward: false })], ca: { dir: '/ca' } },
      listeners: [bound('rev', '127.0.0.1', 1000)],
      admin: bound('admin', '127.0.0.1', 3000),
      agent: 'a',
      base: { HTTP_PROXY: 'http://corp:3128' },
    });
    expect(proxy).toBeUndefined();
    expect(env.HTTP_PROXY).toBe('http://corp:3128');
    expect(env.FAULTGATE_URL).toBe('http://127.0.0.1:1000');
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it('helpers: reachable() maps wildcard binds to loopback; proxyUrl() always carries a password', () => {
    expect(reachable(bound('x', '0.0.0.0', 1))).toBe('127.0.0.1:1');
    expect(reachable(bound('x', '::', 1))).toBe('[::1]:1');
    expect(proxyUrl('planner', '127.0.0.1:8')).toBe('http://planner:x@127.0.0.1:8');
  });
});

describe('loadRunConfig', () => {
  it('no listeners: one forward listener on a free loopback port allowing loopback and the tools hosts', () => {
    const { file } = tempDir();
    const path = file(
      'c.yaml',
      'version: 1\ntools:\n  - { name: llm, match: { host: api.openai.com }, upstream: "https://llm.internal:8443" }\n',
    );
    const r = loadRunConfig(path, {});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.listeners).toEqual([
      expect.objectContaining({ name: 'run', listen: '127.0.0.1:0', forward: true, tls: 'tunnel' }),
    ]);
    expect(r.config.listeners[0]!.allow_hosts).toEqual([
      'localhost',
      '127.0.0.1',
      '::1',
      'api.openai.com',
      'llm.internal:8443',
    ]);
    expect(r.config.admin.listen).toBe('127.0.0.1:0');
  });

  it("keeps the config's own listeners and admin address; problems keep their lines", () => {
    const { file } = tempDir();
    const own = file(
      'own.yaml',
      'version: 1\nlisteners:\n  - { name: a, listen: "127.0.0.1:0" }\nadmin: { listen: "127.0.0.1:0" }\n',
    );
    const r = loadRunConfig(own, {});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.listeners.map((l) => l.name)).toEqual(['a']);
    const bad = loadRunConfig(file('bad.yaml', 'version: 1\nslos: { nope: 1 }\n'), {});
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems[0]).toMatchObject({ line: 2, path: 'slos.nope' });
    const missing = loadRunConfig(join(tempDir().dir, 'none.yaml'), {});
    expect(missing.ok).toBe(false);
  });
});
