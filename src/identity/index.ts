import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/schema.js';
import { firstSegment, splitHost } from './glob.js';
import { CompiledTool, type McpFacts, type RequestFacts } from './tools.js';

export { compileHostPattern, compilePathGlob, compileValueGlob, splitHost } from './glob.js';
export { CompiledTool, type McpFacts, mcpFromBody, mcpFromHeaders, type RequestFacts } from './tools.js';

/** The tool name of a request no tool matched. */
export const UNMATCHED = 'unmatched';

/** Returned by `ToolIndex.match` when only the JSON-RPC body can decide between tools. */
export const NEEDS_BODY: unique symbol = Symbol('needs-body');

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

/** `::ffff:10.0.0.7` -> `10.0.0.7`, so `client_ips` can be written with plain IPv4 addresses. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The username of a `Basic` `Proxy-Authorization` header (`http://planner@host:8080` -> planner). */
export function proxyUserFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(header.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const raw = colon === -1 ? decoded : decoded.slice(0, colon);
  let user = raw;
  try {
    user = decodeURIComponent(raw);
  } catch {
    // A malformed escape (`%zz`) is kept as written: a client header must never throw here.
  }
  return user || undefined;
}

const MAX_CACHED_HOSTS = 4096;
const NONE: readonly CompiledTool[] = [];

/**
 * The tools a request to one host can match, split by the first path segment they require:
 * `bySegment` holds tools whose path glob starts with a literal segment (`/v1/**`), `any` the
 * rest (no path matcher, or a wildcard first segment). Both keep config order.
 */
interface Candidates {
  readonly any: readonly CompiledTool[];
  readonly bySegment: ReadonlyMap<string, readonly CompiledTool[]>;
}

function group(tools: readonly CompiledTool[]): Candidates {
  const any: CompiledTool[] = [];
  const bySegment = new Map<string, CompiledTool[]>();
  for (const tool of tools) {
    if (tool.pathKey === undefined) any.push(tool);
    else {
      const list = bySegment.get(tool.pathKey);
      if (list) list.push(tool);
      else bySegment.set(tool.pathKey, [tool]);
    }
  }
  return { any, bySegment };
}

/**
 * The tools of one listener, with candidate lists cached per target host: a request checks
 * only the tools whose host matcher can match it and whose path glob can match its first
 * segment, which keeps resolution flat in the number of tools. In reverse mode a host matcher
 * also accepts the listener's upstream host.
 */
export class ToolIndex {
  private readonly byHost = new Map<string, Candidates>();
  /** Hosts mostly share a handful of distinct candidate lists: keep one copy of each. */
  private readonly shared = new Map<string, Candidates>();
  private readonly alt?: { hostname: string; port: string };

  constructor(
    private readonly tools: readonly CompiledTool[],
    upstreamHost?: string,
  ) {
    if (upstreamHost) this.alt = splitHost(upstreamHost);
  }

  private candidates(hostname: string, port: string): Candidates {
    const key = port === '' ? hostname : `${hostname}:${port}`;
    let found = this.byHost.get(key);
    if (!found) {
      const list = this.tools.filter((t) =>
        t.matchesHost(hostname, port, this.alt?.hostname, this.alt?.port),
      );
      const signature = list.map((t) => t.index).join(',');
      found = this.shared.get(signature);
      if (!found) {
        found = group(list);
        this.shared.set(signature, found);
      }
      if (this.byHost.size >= MAX_CACHED_HOSTS) {
        this.byHost.clear();
        this.shared.clear();
      }
      this.byHost.set(key, found);
    }
    return found;
  }

  /**
   * The first tool (in config order) that matches. `mcp` null means MCP facts are unknown:
   * when a tool with an MCP matcher is reached and `bodyReadable`, answers NEEDS_BODY so the
   * caller can read the JSON-RPC body and ask again.
   */
  match(
    facts: RequestFacts,
    mcp: McpFacts | null,
    bodyReadable: boolean,
  ): CompiledTool | undefined | typeof NEEDS_BODY {
    const { any, bySegment } = this.candidates(facts.hostname, facts.port);
    const keyed = bySegment.size === 0 ? NONE : (bySegment.get(firstSegment(facts.path)) ?? NONE);
    let i = 0;
    let j = 0;
    while (i < keyed.length || j < any.length) {
      // Merge both lists back into config order: the first tool in the file that matches wins.
      const tool =
        j === any.length || (i < keyed.length && keyed[i]!.index < any[j]!.index) ? keyed[i++]! : any[j++]!;
      if (!tool.matchesRequest(facts)) continue;
      if (!tool.needsMcp) return tool;
      if (mcp) {
        if (tool.matchesMcp(mcp)) return tool;
      } else if (bodyReadable) return NEEDS_BODY;
    }
    return undefined;
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
    return firstOf(this.agentSources, peer, this.config.agents.default);
  }

  tenant(peer: PeerFacts): string {
    return firstOf(this.tenantSources, peer, this.config.tenants.default);
  }
}
