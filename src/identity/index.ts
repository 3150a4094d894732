import type { IncomingHttpHeaders } from 'node:http';
import { hash32 } from '../chaos/rng.js';
import type { Config } from '../config/schema.js';
import { ToolIndex } from './tool-index.js';
import { CompiledTool } from './tools.js';

export { compileHostPattern, compilePathGlob, compileValueGlob, splitHost } from './glob.js';
export { NEEDS_BODY, ToolIndex } from './tool-index.js';
export { CompiledTool, type McpFacts, mcpFromBody, mcpFromHeaders, type RequestFacts } from './tools.js';

/** The tool name of a request no tool matched. */
export const UNMATCHED = 'unmatched';

/** Who sent a request, as far as agent and tenant sources can tell. */
export interface PeerFacts {
  headers: IncomingHttpHeaders;
  /** Username of `Proxy-Authorization` (of the request, or of the CONNECT that opened the tunnel). */
  proxyUser: string | undefined;
  remoteAddress: string;
}

type Source = (peer: PeerFacts) => string | undefined;

function compileSources(from: readonly string[], clientIps: Readonly<Record<string, string>>): Source[] {
  return from.map((src): Source => {
    if (src === 'proxy_user') return (p) => p.proxyUser || undefined;
    // A socket that already closed has no address: fall through to the next source, not ''.
    if (src === 'client_ip') return (p) => clientIps[p.remoteAddress] ?? (p.remoteAddress || undefined);
    const name = src.slice('header:'.length).toLowerCase();
    return (p) => {
      const v = p.headers[name];
      return (Array.isArray(v) ? v[0] : v) || undefined;
    };
  });
}

function firstOf(sources: readonly Source[], peer: PeerFacts, fallback: string): string {
  for (const source of sources) {
    const v = source(peer);
    if (v !== undefined) return v;
  }
  return fallback;
}

const MAX_NAME = 128;

/**
 * Agent and tenant names key bounded maps (decision sequences, buckets, label caps): a name a
 * client sends is cut at 128 characters and marked with a hash, so a 20 KB header cannot make
 * each entry 20 KB.
 */
function bounded(name: string): string {
  if (name.length <= MAX_NAME) return name;
  return `${name.slice(0, MAX_NAME - 9)}~${hash32(name).toString(16).padStart(8, '0')}`;
}

/** `::ffff:10.0.0.7` -> `10.0.0.7`, so `client_ips` can be written with plain IPv4 addresses. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Agents send the same header on every request and decoding it costs more than the rest of
 * identity resolution together, so recent answers are remembered (short headers only).
 */
const proxyUsers = new Map<string, string | undefined>();
const MAX_PROXY_USERS = 256;

/** The username of a `Basic` `Proxy-Authorization` header (`http://planner@host:8080` -> planner). */
export function proxyUserFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const known = proxyUsers.get(header);
  if (known !== undefined || proxyUsers.has(header)) return known;
  const user = decodeProxyUser(header);
  if (header.length <= 512) {
    if (proxyUsers.size >= MAX_PROXY_USERS) proxyUsers.clear();
    proxyUsers.set(header, user);
  }
  return user;
}

function decodeProxyUser(header: string): string | undefined {
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(header.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const raw = colon === -1 ? decoded : decoded.slice(0, colon);
  if (!raw.includes('%')) return raw || undefined;
  try {
    return decodeURIComponent(raw) || undefined;
  } catch {
    // A malformed escape (`%zz`) is kept as written: a client header must never throw here.
    return raw;
  }
}

/** Everything identity needs, compiled once per config load. */
export class IdentityResolver {
  readonly tools: readonly CompiledTool[];
  readonly toolsByName: ReadonlyMap<string, CompiledTool>;
  private readonly agentSources: Source[];
  private readonly tenantSources: Source[];

  constructor(private readonly config: Config) {
    this.tools = config.tools.map((t, i) => new CompiledTool(i, t));
    this.toolsByName = new Map(this.tools.map((t) => [t.name, t]));
    this.agentSources = compileSources(config.agents.from, config.agents.client_ips);
    this.tenantSources = compileSources(config.tenants.from, config.tenants.client_ips);
  }

  toolIndex(upstreamHost?: string): ToolIndex {
    return new ToolIndex(this.tools, upstreamHost);
  }

  agent(peer: PeerFacts): string {
    return bounded(firstOf(this.agentSources, peer, this.config.agents.default));
  }

  tenant(peer: PeerFacts): string {
    return bounded(firstOf(this.tenantSources, peer, this.config.tenants.default));
  }
}
