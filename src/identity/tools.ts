import type { IncomingHttpHeaders } from 'node:http';
import type { ToolConfig } from '../config/schema.js';
import {
  compileHostPattern,
  compilePathGlob,
  compileValueGlob,
  pathIndexPrefix,
  pathIndexSuffix,
  type StringMatcher,
} from './glob.js';

/** What a tool matcher may look at, gathered once per request by the proxy. */
export interface RequestFacts {
  method: string;
  /** Lower-case hostname of the request's target (Host header or absolute-form/CONNECT target). */
  hostname: string;
  port: string;
  /** Path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
}

/** MCP routing facts, from `Mcp-Method`/`Mcp-Name` headers or a JSON-RPC body; null = not known yet. */
export interface McpFacts {
  method: string | undefined;
  tool: string | undefined;
  /** The JSON-RPC id, when the body was read: dialect errors echo it. */
  id?: string | number | null;
}

/** A tool's matchers, compiled once per config load; every check stops at the first mismatch. */
export class CompiledTool {
  readonly name: string;
  readonly needsMcp: boolean;
  /** The leading path segments this tool requires (`/v1/**` -> [v1], `*` = any one segment). */
  readonly pathPrefix: readonly string[];
  /** The literal last segment a path behind a `**` must end with (e.g. items for `/v1/**` then `/items`), if any. */
  readonly pathSuffix: string | undefined;
  private readonly host?: (hostname: string, port: string) => boolean;
  private readonly path?: StringMatcher;
  private readonly methods?: ReadonlySet<string>;
  private readonly headers: readonly (readonly [string, StringMatcher])[];

  constructor(
    readonly index: number,
    readonly config: ToolConfig,
  ) {
    const m = config.match;
    this.name = config.name;
    if (m.host) this.host = compileHostPattern(m.host);
    if (m.path) this.path = compilePathGlob(m.path);
    this.pathPrefix = m.path ? pathIndexPrefix(m.path) : [];
    this.pathSuffix = m.path ? pathIndexSuffix(m.path) : undefined;
    if (m.methods) this.methods = new Set(m.methods.map((x) => x.toUpperCase()));
    this.headers = Object.entries(m.headers ?? {}).map(
      ([k, v]) => [k.toLowerCase(), compileValueGlob(v)] as const,
    );
    this.needsMcp = m.mcp_tool !== undefined || m.mcp_method !== undefined;
  }

  /** Host only: used to build the per-host candidate lists. */
  matchesHost(hostname: string, port: string, altHostname?: string, altPort?: string): boolean {
    if (!this.host) return true;
    return this.host(hostname, port) || (altHostname !== undefined && this.host(altHostname, altPort ?? ''));
  }

  /** Everything but host and MCP. */
  matchesRequest(facts: RequestFacts): boolean {
    if (this.methods && !this.methods.has(facts.method)) return false;
    if (this.path && !this.path(facts.path)) return false;
    for (const [name, matcher] of this.headers) {
      const value = facts.headers[name];
      if (value === undefined) return false;
      if (!matcher(Array.isArray(value) ? value.join(', ') : value)) return false;
    }
    return true;
  }

  matchesMcp(mcp: McpFacts): boolean {
    const m = this.config.match;
    if (m.mcp_method !== undefined && mcp.method !== m.mcp_method) return false;
    if (m.mcp_tool !== undefined && mcp.tool !== m.mcp_tool) return false;
    return true;
  }

  /** A one-line description of the matcher, for logs, `validate` and the admin API. */
  explain(): string {
    const m = this.config.match;
    const parts: string[] = [];
    if (m.host) parts.push(`host=${m.host}`);
    if (m.path) parts.push(`path=${m.path}`);
    if (m.methods) parts.push(`methods=${m.methods.join(',')}`);
    for (const [k, v] of Object.entries(m.headers ?? {})) parts.push(`header ${k}=${v}`);
    if (m.mcp_method) parts.push(`mcp_method=${m.mcp_method}`);
    if (m.mcp_tool) parts.push(`mcp_tool=${m.mcp_tool}`);
    return `${this.name}: ${parts.length > 0 ? parts.join(' ') : 'any request'}`;
  }
}

/** MCP facts from the routing headers of the MCP HTTP transport, if the client sent them. */
export function mcpFromHeaders(headers: IncomingHttpHeaders): McpFacts | null {
  const method = headers['mcp-method'];
  const name = headers['mcp-name'];
  if (method === undefined && name === undefined) return null;
  const m = typeof method === 'string' ? method : undefined;
  return {
    method: m ?? (name !== undefined ? 'tools/call' : undefined),
    tool: typeof name === 'string' ? name : undefined,
  };
}

/** MCP facts from a JSON-RPC request body (a single message or the first of a batch). */
export function mcpFromBody(body: Buffer): McpFacts {
  let msg: unknown;
  try {
    msg = JSON.parse(body.toString('utf8'));
  } catch {
    return { method: undefined, tool: undefined };
  }
  if (Array.isArray(msg)) msg = msg.find((m) => m && typeof m === 'object' && 'method' in m);
  if (!msg || typeof msg !== 'object') return { method: undefined, tool: undefined };
  const { method, params, id } = msg as { method?: unknown; params?: { name?: unknown }; id?: unknown };
  const m = typeof method === 'string' ? method : undefined;
  const tool = m === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
  const rpcId = typeof id === 'string' || typeof id === 'number' ? id : id === null ? null : undefined;
  return { method: m, tool, id: rpcId };
}
