import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { compileHostPattern, splitHost, type ToolIndex } from '../identity/index.js';
import type { ProxyState, UpstreamTarget } from './context.js';
import { parseUpstream } from './upstream.js';

/** What a CONNECT established on a client socket, remembered for the requests inside the tunnel. */
export interface TunnelInfo {
  /** `http://host:port` of the CONNECT target (`https://` when faultgate terminated its TLS). */
  origin: string;
  host: string;
  hostname: string;
  port: string;
  proxyAuthorization: string | undefined;
  /** The TCP socket under an intercepted TLS socket: a reset fault resets this one. */
  raw?: Socket;
}

const tunnels = new WeakMap<Socket, TunnelInfo>();

export function rememberTunnel(socket: Socket, info: TunnelInfo): void {
  tunnels.set(socket, info);
}

/** The TCP socket under an intercepted TLS client socket, which alone can send a TCP RST. */
export function rawSocketOf(socket: Socket): Socket | undefined {
  return tunnels.get(socket)?.raw;
}

/** `allow_hosts`, compiled: the only targets forward mode will ever reach. */
export class AllowList {
  private readonly patterns: ((hostname: string, port: string) => boolean)[];
  constructor(hosts: readonly string[]) {
    this.patterns = hosts.map(compileHostPattern);
  }
  allows(hostname: string, port: string): boolean {
    for (const p of this.patterns) if (p(hostname, port)) return true;
    return false;
  }
}

/** Where one request goes, decided from its form (origin, absolute, inside a tunnel). */
export type Route =
  | {
      mode: 'reverse';
      hostname: string;
      port: string;
      path: string;
    }
  | {
      mode: 'forward';
      target: UpstreamTarget;
      hostname: string;
      port: string;
      path: string;
      proxyAuthorization: string | undefined;
      /** Inside a CONNECT tunnel (the client's Host is kept); absolute-form otherwise (Host is the target's). */
      tunnel?: boolean;
    }
  | {
      mode: 'denied';
      code: 'FAULTGATE_ERR_FORWARD_DENIED' | 'FAULTGATE_ERR_FORWARD_DISABLED' | 'FAULTGATE_ERR_BAD_REQUEST';
      detail: string;
    };

/** A route that goes somewhere (not denied). */
export type UpstreamRoute = Exclude<Route, { mode: 'denied' }>;

export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export class Router {
  readonly allow: AllowList;
  readonly upstream: UpstreamTarget | undefined;

  constructor(readonly listener: ListenerConfig) {
    this.allow = new AllowList(listener.allow_hosts);
    this.upstream = listener.upstream ? parseUpstream(listener.upstream) : undefined;
  }

  route(req: IncomingMessage): Route {
    const url = req.url ?? '/';
    const tunnel = tunnels.get(req.socket);
    if (tunnel) {
      // Inside a CONNECT tunnel: the target was checked against allow_hosts at CONNECT time.
      // Whatever the request line names, it goes to the tunnel's target: an absolute-form
      // target is reduced to its path, so nothing else can be reached through the tunnel.
      let path = url;
      if (url.charCodeAt(0) !== 47 /* '/' */) {
        if (!URL.canParse(url))
          return { mode: 'denied', code: 'FAULTGATE_ERR_BAD_REQUEST', detail: 'unparseable request target' };
        const u = new URL(url);
        path = u.pathname + u.search;
      }
      return {
        mode: 'forward',
        target: {
          origin: tunnel.origin,
          host: tunnel.host,
          basePath: '',
          protocol: tunnel.raw ? 'https:' : 'http:',
        },
        hostname: tunnel.hostname,
        port: tunnel.port,
        path,
        proxyAuthorization: tunnel.proxyAuthorization,
        tunnel: true,
      };
    }
    if (url.charCodeAt(0) === 47 /* '/' */) {
      const { hostname, port } = splitHost(req.headers.host ?? '');
      return { mode: 'reverse', hostname, port, path: url };
    }
    return this.absolute(req, url);
  }

  private absolute(req: IncomingMessage, url: string): Route {
    if (!this.listener.forward) {
      return {
        mode: 'denied',
        code: 'FAULTGATE_ERR_FORWARD_DISABLED',
        detail: `listener "${this.listener.name}" has forward: false`,
      };
    }
    if (!URL.canParse(url))
      return { mode: 'denied', code: 'FAULTGATE_ERR_BAD_REQUEST', detail: 'unparseable request target' };
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      return {
        mode: 'denied',
        code: 'FAULTGATE_ERR_BAD_REQUEST',
        detail: `unsupported scheme ${u.protocol}`,
      };
    }
    // WHATWG URL drops default ports; allow_hosts and host matchers may name them.
    const hostname = splitHost(u.host).hostname;
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    if (!this.allow.allows(hostname, port)) {
      return {
        mode: 'denied',
        code: 'FAULTGATE_ERR_FORWARD_DENIED',
        detail: `${u.host} is not in allow_hosts of listener "${this.listener.name}"`,
      };
    }
    return {
      mode: 'forward',
      target: { origin: u.origin, host: u.host, basePath: '', protocol: u.protocol as 'http:' | 'https:' },
      hostname,
      port,
      path: u.pathname + u.search,
      proxyAuthorization: req.headers['proxy-authorization'],
    };
  }
}

/**
 * What one listener compiles from one config load. A request reads it once, at its start, and
 * keeps it to the end: a reload never mixes an old tool index with a new tool table.
 */
export interface ListenerRouting {
  state: ProxyState;
  config: ListenerConfig;
  router: Router;
  /** Reverse routes also accept the listener's upstream host in host matchers; forward ones never do. */
  reverseIndex: ToolIndex;
  forwardIndex: ToolIndex;
}

export function compileListener(state: ProxyState, config: ListenerConfig): ListenerRouting {
  const router = new Router(config);
  return {
    state,
    config,
    router,
    reverseIndex: state.identity.toolIndex(router.upstream?.host),
    forwardIndex: state.identity.toolIndex(),
  };
}
