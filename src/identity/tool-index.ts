import { splitHost } from './glob.js';
import type { CompiledTool, McpFacts, RequestFacts } from './tools.js';

/** Returned by `ToolIndex.match` when only the JSON-RPC body can decide between tools. */
export const NEEDS_BODY: unique symbol = Symbol('needs-body');

const MAX_CACHED_HOSTS = 4096;

type Trie = ReturnType<typeof PathNode.build>;

/**
 * The tools one host can match, in a trie of leading path segments: a tool sits at the node of
 * its glob's index prefix (`/v1/*` at v1 -> `*`, tools without a path at the root), so a request
 * visits only the nodes along its own path (each level: the literal child and the `*` child).
 * A glob with `**` before a literal last segment (`/v1/**` then `/items`) is further
 * keyed at its node by that segment, so a `**` in the middle does not make the tool a candidate
 * for every request. Lists keep config order.
 */
class PathNode {
  readonly tools: CompiledTool[] = [];
  /** Tools of this node keyed by the literal last segment their paths must end with. */
  readonly byLast = new Map<string, CompiledTool[]>();
  readonly children = new Map<string, PathNode>();
  /** The child for a whole-segment `*`. */
  star: PathNode | undefined;

  /** True when some node of the trie keys tools by last segment. */
  static build(tools: readonly CompiledTool[]): { root: PathNode; keyed: boolean } {
    const root = new PathNode();
    let keyed = false;
    for (const tool of tools) {
      let node = root;
      for (const segment of tool.pathPrefix) node = node.child(segment);
      if (tool.pathSuffix === undefined) node.tools.push(tool);
      else {
        keyed = true;
        const list = node.byLast.get(tool.pathSuffix);
        if (list) list.push(tool);
        else node.byLast.set(tool.pathSuffix, [tool]);
      }
    }
    return { root, keyed };
  }

  private child(segment: string): PathNode {
    if (segment === '*') {
      this.star ??= new PathNode();
      return this.star;
    }
    let child = this.children.get(segment);
    if (!child) {
      child = new PathNode();
      this.children.set(segment, child);
    }
    return child;
  }
}

/**
 * The tools of one listener. Candidates are cached per target host (only tools whose host
 * matcher can match it) and indexed by path, which keeps resolution flat in the number of
 * tools. In reverse mode a host matcher also accepts the listener's upstream host.
 */
export class ToolIndex {
  /** Candidates by hostname, then port ('' for none): two lookups, no key built per request. */
  private readonly byHost = new Map<string, Map<string, Trie>>();
  private cachedHosts = 0;
  /** Hosts mostly share a handful of distinct candidate lists: keep one trie for each. */
  private readonly shared = new Map<string, Trie>();
  private readonly alt?: { hostname: string; port: string };
  /** Scratch space of `match` (synchronous, so one per index is enough): the lists on the path. */
  private readonly lists: (readonly CompiledTool[])[] = [];
  private readonly cursors: number[] = [];
  /** The request path's last segment while `match` runs on a keyed trie ('' otherwise). */
  private last = '';

  constructor(
    private readonly tools: readonly CompiledTool[],
    upstreamHost?: string,
  ) {
    if (upstreamHost) this.alt = splitHost(upstreamHost);
  }

  private candidates(hostname: string, port: string): Trie {
    let ports = this.byHost.get(hostname);
    let root = ports?.get(port);
    if (!root) {
      const list = this.tools.filter((t) =>
        t.matchesHost(hostname, port, this.alt?.hostname, this.alt?.port),
      );
      const signature = list.map((t) => t.index).join(',');
      root = this.shared.get(signature);
      if (!root) {
        root = PathNode.build(list);
        this.shared.set(signature, root);
      }
      if (this.cachedHosts >= MAX_CACHED_HOSTS) {
        this.byHost.clear();
        this.shared.clear();
        this.cachedHosts = 0;
        ports = undefined;
      }
      if (!ports) {
        ports = new Map();
        this.byHost.set(hostname, ports);
      }
      ports.set(port, root);
      this.cachedHosts++;
    }
    return root;
  }

  /**
   * Adds the non-empty tool lists of `node` and of the nodes below it that the path segments
   * from `start` reach (-1: no segments left) to `lists`; returns the new count.
   */
  private collect(node: PathNode, path: string, start: number, count: number): number {
    if (node.tools.length > 0) this.lists[count++] = node.tools;
    if (node.byLast.size > 0) {
      const keyed = node.byLast.get(this.last);
      if (keyed) this.lists[count++] = keyed;
    }
    if (start === -1 || (node.children.size === 0 && !node.star)) return count;
    const end = path.indexOf('/', start);
    const next = end === -1 ? -1 : end + 1;
    const child = node.children.get(end === -1 ? path.slice(start) : path.slice(start, end));
    if (child) count = this.collect(child, path, next, count);
    if (node.star) count = this.collect(node.star, path, next, count);
    return count;
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
    const { lists, cursors } = this;
    const trie = this.candidates(facts.hostname, facts.port);
    // Only configs with a `**` before a literal last segment pay for the slice.
    this.last = trie.keyed ? facts.path.slice(facts.path.lastIndexOf('/') + 1) : '';
    const count = this.collect(trie.root, facts.path, 1, 0);
    for (let k = 0; k < count; k++) cursors[k] = 0;
    for (;;) {
      // Merge the lists back into config order: the first tool in the file that matches wins.
      let best = -1;
      for (let k = 0; k < count; k++) {
        const list = lists[k]!;
        if (
          cursors[k]! < list.length &&
          (best === -1 || list[cursors[k]!]!.index < lists[best]![cursors[best]!]!.index)
        ) {
          best = k;
        }
      }
      if (best === -1) return undefined;
      const tool = lists[best]![cursors[best]!++]!;
      if (!tool.matchesRequest(facts)) continue;
      if (!tool.needsMcp) return tool;
      if (mcp) {
        if (tool.matchesMcp(mcp)) return tool;
      } else if (bodyReadable) return NEEDS_BODY;
    }
  }
}
