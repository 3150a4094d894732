import type { IncomingHttpHeaders } from 'node:http';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { IdentityResolver, type PeerFacts, type RequestFacts, splitHost } from '../../src/identity/index.js';

/** A validated config from a plain object (JSON is YAML), so defaults are the real ones. */
export function config(extra: Record<string, unknown>): Config {
  const text = JSON.stringify({ version: 1, listeners: [{ name: 'main', listen: '127.0.0.1:0' }], ...extra });
  const result = parseConfig('identity.yaml', text, {});
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path} ${p.message}`).join('\n'));
  return result.config;
}

export function resolver(extra: Record<string, unknown>): IdentityResolver {
  return new IdentityResolver(config(extra));
}

/** Request facts as the router builds them: hostname and port from `host`, lower-cased. */
export function request(
  host: string,
  path = '/',
  method = 'GET',
  headers: IncomingHttpHeaders = {},
): RequestFacts {
  const { hostname, port } = splitHost(host);
  return { method, hostname, port, path, headers: { host, ...headers } };
}

export function peer(
  remoteAddress: string,
  headers: IncomingHttpHeaders = {},
  proxyUser?: string,
): PeerFacts {
  return { headers, proxyUser, remoteAddress };
}

export const basic = (userinfo: string): string => `Basic ${Buffer.from(userinfo).toString('base64')}`;
