/**
 * The config `faultgate run` starts with: the file as written, plus loopback defaults for what
 * it leaves out, so a run never collides with a proxy already listening on the usual ports.
 */
import { isMap, parseDocument } from 'yaml';
import { type LoadResult, parseConfig, readConfigText } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** A forward proxy on a free loopback port; its allow_hosts are filled in from the tools. */
export const DEFAULT_RUN_LISTENER = `
listeners:
  - { name: run, listen: "127.0.0.1:0", forward: true }
`;

/**
 * What the default listener may forward to: loopback and every host the tools name (their
 * `match.host` and `upstream`), never an open proxy (SPEC section 3).
 */
export function defaultAllowHosts(config: Pick<Config, 'tools'>): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', '::1']);
  for (const t of config.tools) {
    if (t.match.host) hosts.add(t.match.host);
    if (t.upstream) hosts.add(new URL(t.upstream).host);
  }
  return [...hosts];
}
export const DEFAULT_RUN_ADMIN = '127.0.0.1:0';

/**
 * Loads `file` like `faultgate start` does, except: no `listeners` key gives one forward
 * listener on a free loopback port, and no `admin.listen` a free loopback port for the admin
 * API (instead of 9090). Problems keep their lines: the default listener is appended.
 */
export function loadRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const read = readConfigText(file);
  if (!read.ok) return read;
  const { raw } = read;
  const doc = parseDocument(raw);
  const root = doc.errors.length === 0 && isMap(doc.contents) ? doc.contents : undefined;
  // Appending is only safe after a block mapping (the usual config); anything else is left to the validator.
  const appendable = root !== undefined && !root.flow;
  const text =
    appendable && !root.has('listeners') ? `${raw.replace(/\n*$/, '\n')}${DEFAULT_RUN_LISTENER}` : raw;
  const result = parseConfig(file, text, env);
  if (!result.ok) return result;
  let config = result.config;
  if (text !== raw) {
    const [listener] = config.listeners;
    config = { ...config, listeners: [{ ...listener!, allow_hosts: defaultAllowHosts(config) }] };
  }
  if (root === undefined || doc.getIn(['admin', 'listen']) === undefined)
    config = { ...config, admin: { ...config.admin, listen: DEFAULT_RUN_ADMIN } };
  return { ...result, config };
}
