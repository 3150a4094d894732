/**
 * The environment `faultgate run` gives its command (SPEC section 1): proxy variables carrying
 * the agent's name, the admin URL, the Node preload and, when a listener intercepts TLS, the
 * variables that make common clients trust faultgate's CA.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config/schema.js';
import type { BoundAddress } from '../proxy/listener-set.js';

/** The preload shipped next to this file in dist (`run/preload.js`). */
export const PRELOAD_PATH = fileURLToPath(new URL('./preload.js', import.meta.url));

export interface RunEnvInput {
  config: Pick<Config, 'listeners' | 'ca'>;
  listeners: readonly BoundAddress[];
  admin: BoundAddress;
  agent: string;
  /** The environment to extend (normally process.env). */
  base: NodeJS.ProcessEnv;
}

/** A bound address as a client reaches it: a wildcard bind is reached on loopback. */
export function reachable(a: BoundAddress): string {
  let host = a.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

/**
 * `http://NAME:x@host:port`: python requests, urllib, curl and undici send Proxy-Authorization
 * only when the URL has a password, so a bare `NAME@` would name nobody. `x` is a placeholder.
 */
export function proxyUrl(agent: string, address: string): string {
  return `http://${encodeURIComponent(agent)}:x@${address}`;
}

/** `--import "<file URL>"`, quoted so a path with spaces survives NODE_OPTIONS' splitting. */
export function preloadOption(path = PRELOAD_PATH): string {
  return `--import "${pathToFileURL(path).href}"`;
}

export interface RunEnv {
  env: NodeJS.ProcessEnv;
  /** The forward listener the proxy variables point at; undefined when none forwards. */
  proxy: string | undefined;
}

export function runEnv(input: RunEnvInput): RunEnv {
  const { config, listeners, admin, agent, base } = input;
  const env: NodeJS.ProcessEnv = { ...base };
  const forwardIndex = config.listeners.findIndex((l) => l.forward);
  const forward = forwardIndex >= 0 ? listeners[forwardIndex] : undefined;
  const adminAddress = reachable(admin);
  env.FAULTGATE_ADMIN_URL = `http://${adminAddress}`;
  if (listeners[0]) env.FAULTGATE_URL = `http://${reachable(listeners[0])}`;
  let proxy: string | undefined;
  if (forward) {
    proxy = proxyUrl(agent, reachable(forward));
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = proxy;
    // Replaced, not extended: an inherited NO_PROXY (often `localhost,127.0.0.1` in CI) would
    // let the agent's local traffic bypass faultgate and the chaos would silently never fire.
    env.NO_PROXY = adminAddress;
    env.no_proxy = adminAddress;
    env.NODE_USE_ENV_PROXY = '1';
    const inherited = base.NODE_OPTIONS?.trim();
    env.NODE_OPTIONS = inherited ? `${preloadOption()} ${inherited}` : preloadOption();
  }
  if (config.listeners.some((l) => l.tls === 'intercept')) {
    env.NODE_EXTRA_CA_CERTS = join(config.ca.dir, 'ca.pem');
    const bundle = join(config.ca.dir, 'bundle.pem');
    env.SSL_CERT_FILE = bundle;
    env.REQUESTS_CA_BUNDLE = bundle;
    env.CURL_CA_BUNDLE = bundle;
  }
  return { env, proxy };
}
