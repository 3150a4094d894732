import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { hasJsonBody, labelled, type Peek, peekBody, replay, requestHasBody } from './request-body.js';
import type { Agent } from 'undici';
import type { Config, ListenerConfig } from '../config/schema.js';
import { errorCodes } from '../errors.js';
import {
  type CompiledTool,
  type IdentityResolver,
  type McpFacts,
  mcpFromBody,
  mcpFromHeaders,
  NEEDS_BODY,
  normalizeAddress,
  proxyUserFrom,
  type RequestFacts,
  type ToolIndex,
  UNMATCHED,
} from '../identity/index.js';
import type { Logger } from '../observe/logger.js';
import { listenOn } from '../net.js';
import type { Metrics } from '../observe/metrics.js';
import type { OutcomeSink } from '../observe/outcome.js';
import type { ChaosEngine, Decision } from '../chaos/engine.js';
import { type Call, runChaos } from './chaos-path.js';
import { handleConnect } from './connect.js';
import { Exchange, sendError } from './exchange.js';
import { upstreamRequestHeaders } from './headers.js';
import { pathOnly, Router } from './route.js';
import { handleUpgrade, type WsProxy } from './upgrade.js';
import type { OverloadGuard } from './limits.js';
import { refuseBadFraming, wasRefused } from './wire-checks.js';
import { parseUpstream, type UpstreamTarget } from './upstream.js';

/** Everything compiled from one config load that the data path reads. */
export interface ProxyState {
  config: Config;
  identity: IdentityResolver;
  toolTargets: readonly (UpstreamTarget | undefined)[];
  engine: ChaosEngine;
}

export function toolTargets(config: Config): (UpstreamTarget | undefined)[] {
  return config.tools.map((t) => (t.upstream ? parseUpstream(t.upstream) : undefined));
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

/** While draining, idle keep-alive connections are closed this often (they turn idle as responses end). */
const DRAIN_SWEEP_MS = 50;

/** Shared by every listener of an instance. */
export interface ProxyEnv {
  state(): ProxyState;
  agent: Agent;
  metrics: Metrics;
  logger: Logger;
  ws: WsProxy;
  nextRequestId(): number;
  /** Sockets taken over by CONNECT, which the HTTP server no longer tracks. */
  tunnels: Set<Socket>;
  /** The recovery tracker, when tracking is on. */
  outcomes?: OutcomeSink | undefined;
  /** Aborted when the instance shuts down: faults in flight are released (waits end, hangs close). */
  shutdown?: AbortSignal;
  /** limits.max_connections / max_inflight. */
  overload?: OverloadGuard;
}

/** One data-plane listener: reverse, forward (absolute-form), CONNECT and WebSocket upgrades. */
export class ProxyListener {
  readonly server: Server;
  /** Swapped whole by a reload; never mutated. */
  private routing: ListenerRouting;
  /** CONNECT and upgrade sockets of this listener, which the HTTP server no longer tracks. */
  private readonly detached = new Set<Socket>();
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly env: ProxyEnv,
    config: ListenerConfig,
    state: ProxyState = env.state(),
  ) {
    this.routing = compileListener(state, config);
    const { limits } = state.config;
    this.server = createServer(
      {
        maxHeaderSize: limits.max_header_bytes,
        headersTimeout: limits.headers_timeout_ms,
        requestTimeout: limits.request_timeout_ms,
        keepAliveTimeout: limits.keep_alive_timeout_ms,
        // Node checks header/request deadlines on this interval (30 s by default): keep it below the timeout.
        connectionsCheckingInterval: Math.max(
          50,
          Math.min(30_000, Math.floor(limits.headers_timeout_ms / 4)),
        ),
        noDelay: true,
        // Answered by refuseBadFraming with a coded 400 instead of Node's bare one.
        requireHostHeader: false,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.timeout = limits.client_idle_timeout_ms;
    env.overload?.watch(this.server, limits.max_connections);
    this.server.on('clientError', (err, socket) => this.onClientError(err, socket as Socket));
    this.server.on('connect', (req, socket, head) => {
      this.detach(socket as Socket);
      handleConnect(env, this.routing.router, this.server, req, socket as Socket, head);
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.detach(socket as Socket);
      const { router, reverseIndex } = this.routing;
      handleUpgrade(env, router, reverseIndex, req, socket as Socket, head);
    });
  }

  get config(): ListenerConfig {
    return this.routing.config;
  }

  /**
   * A reload that kept this listener (same `listen`): new requests route with the new state and
   * listener settings; requests in flight finish with the routing they started with.
   */
  update(routing: ListenerRouting): void {
    this.routing = routing;
    const { limits } = routing.state.config;
    // Node reads these per connection or per check, so they apply to the running server.
    this.server.headersTimeout = limits.headers_timeout_ms;
    this.server.requestTimeout = limits.request_timeout_ms;
    this.server.keepAliveTimeout = limits.keep_alive_timeout_ms;
    this.server.timeout = limits.client_idle_timeout_ms;
    this.env.overload?.watch(this.server, limits.max_connections);
  }

  private detach(socket: Socket): void {
    this.detached.add(socket);
    socket.once('close', () => this.detached.delete(socket));
  }

  /**
   * Stops accepting; requests in flight get up to `drainMs` to finish, keep-alive connections
   * close as soon as they are idle, then whatever is left is cut. Opaque tunnels (TLS, WebSocket)
   * may carry a request waiting on a slow upstream, which faultgate cannot see: like Envoy's TCP
   * proxy they keep the whole drain time unless their client closes them. Idempotent.
   */
  close(drainMs: number): Promise<void> {
    this.closing ??= this.drain(drainMs);
    return this.closing;
  }

  private async drain(drainMs: number): Promise<void> {
    this.draining = true;
    const server = this.server;
    const closed = new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()));
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
    sweep.unref();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, drainMs);
      timer.unref();
    });
    await Promise.race([closed, deadline]);
    clearInterval(sweep);
    clearTimeout(timer);
    this.cut();
    await closed;
  }

  /** Cuts every connection now: the end of a drain. */
  cut(): void {
    this.server.closeAllConnections();
    for (const s of this.detached) s.destroy();
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.config.listen);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // After a refused request the connection closes once that answer is out: its leftover
    // bytes get no second answer (destroying here could cut the first one short).
    if (wasRefused(socket) && socket.writable) return;
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const code = tooLarge
      ? 'FAULTGATE_ERR_HEADERS_TOO_LARGE'
      : timedOut
        ? 'FAULTGATE_ERR_CLIENT_TIMEOUT'
        : 'FAULTGATE_ERR_BAD_REQUEST';
    const status = tooLarge
      ? '431 Request Header Fields Too Large'
      : timedOut
        ? '408 Request Timeout'
        : '400 Bad Request';
    const body = JSON.stringify({
      error: {
        code,
        message: tooLarge || timedOut ? errorCodes[code].message : err.message,
        source: 'faultgate',
      },
    });
    socket.end(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon?.();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    if (refuseBadFraming(req, res)) return;
    if (this.env.overload && !this.env.overload.admit(res)) return;
    // A request on a kept-alive connection while draining is served, then its connection closes.
    if (this.draining) res.shouldKeepAlive = false;
    const routing = this.routing;
    const route = routing.router.route(req);
    if (route.mode === 'denied') {
      sendError(res, route.code, route.detail);
      return;
    }
    const facts: RequestFacts = {
      method: req.method ?? 'GET',
      hostname: route.hostname,
      port: route.port,
      path: pathOnly(route.path),
      headers: req.headers,
    };
    const mcp = mcpFromHeaders(req.headers);
    const index = route.mode === 'reverse' ? routing.reverseIndex : routing.forwardIndex;
    const match = index.match(facts, mcp, hasJsonBody(req));
    if (match === NEEDS_BODY) {
      const limit = routing.state.config.limits.mcp_peek_bytes;
      peekBody(req, limit).then(
        (peek) => this.forward(routing, req, res, route, facts, startedAt, peek),
        () => res.destroy(),
      );
      return;
    }
    this.dispatch(routing, req, res, route, match, startedAt, undefined);
  }

  /** Second pass after the JSON-RPC body was read for an MCP matcher. */
  private forward(
    routing: ListenerRouting,
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    facts: RequestFacts,
    startedAt: number,
    peek: Peek,
  ): void {
    const mcp: McpFacts = peek.complete ? mcpFromBody(peek.body) : { method: undefined, tool: undefined };
    const index = route.mode === 'reverse' ? routing.reverseIndex : routing.forwardIndex;
    const match = index.match(facts, mcp, false);
    this.dispatch(routing, req, res, route, match === NEEDS_BODY ? undefined : match, startedAt, peek);
  }

  private dispatch(
    routing: ListenerRouting,
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    tool: CompiledTool | undefined,
    startedAt: number,
    peek: Peek | undefined,
  ): void {
    const env = this.env;
    const { state } = routing;
    const proxyAuth =
      route.mode === 'forward' ? route.proxyAuthorization : req.headers['proxy-authorization'];
    const peer = {
      headers: req.headers,
      proxyUser: proxyUserFrom(proxyAuth),
      remoteAddress: normalizeAddress(req.socket.remoteAddress),
    };
    const agent = state.identity.agent(peer);
    const tenant = state.identity.tenant(peer);
    const toolName = tool ? tool.name : UNMATCHED;
    const target =
      route.mode === 'forward'
        ? route.target
        : ((tool && state.toolTargets[tool.index]) ?? routing.router.upstream);
    const requestId = env.nextRequestId();
    if (!target) {
      env.metrics.exchange(agent, toolName).failure.inc();
      sendError(
        res,
        'FAULTGATE_ERR_NO_UPSTREAM',
        `no upstream for ${req.method} ${route.path}: the tool "${toolName}" and listener "${routing.config.name}" have none`,
      );
      return;
    }
    const decision = this.decide(req, res, state, agent, tenant, toolName);
    if (decision === null) return; // a malformed override was answered
    const call: Call = {
      req,
      res,
      agent,
      tenant,
      tool: toolName,
      dialect: tool?.config.format ?? 'json',
      target,
      path: target.basePath + route.path,
      headers: upstreamRequestHeaders(
        req.rawHeaders,
        req.headers,
        // Reverse and absolute-form requests name the target (RFC 9112 3.2.2); inside a tunnel the client's Host stands.
        route.mode === 'forward' && route.tunnel ? (req.headers.host ?? target.host) : target.host,
        route.mode === 'reverse'
          ? { clientIp: peer.remoteAddress, proto: 'http', host: req.headers.host }
          : undefined,
      ),
      body: peek
        ? peek.complete
          ? peek.body
          : Readable.from(replay(peek, req))
        : requestHasBody(req)
          ? req
          : null,
      startedAt,
      requestId,
      peek,
    };
    if (!decision) {
      this.send(call, labelled(new Exchange(env, req, res, agent, toolName, startedAt, requestId), call));
      return;
    }
    runChaos(env, state, call, decision).then(
      (exchange) => exchange && this.send(call, exchange),
      (err: Error) => {
        env.logger.error({ reqId: requestId, err: err.message }, 'chaos run failed');
        sendError(res, 'FAULTGATE_ERR_INTERNAL', 'fault injection failed');
      },
    );
  }

  /** The experiments that fire for this request; null when a bad override was answered with 400. */
  private decide(
    req: IncomingMessage,
    res: ServerResponse,
    state: ProxyState,
    agent: string,
    tenant: string,
    tool: string,
  ): Decision | undefined | null {
    const override = req.headers['x-faultgate-fault'];
    if (override !== undefined && state.config.chaos.header_overrides) {
      const parsed = state.engine.overrides.get(Array.isArray(override) ? override[0]! : override);
      if (!parsed.ok) {
        req.resume();
        sendError(res, 'FAULTGATE_ERR_OVERRIDE', parsed.message);
        return null;
      }
      return { rng: state.engine.requestRng(agent, tool), fired: [parsed.experiment] };
    }
    return state.engine.decide(agent, tenant, tool);
  }

  private send(call: Call, exchange: Exchange): void {
    this.env.agent.dispatch(
      {
        origin: call.target.origin,
        path: call.path,
        method: call.req.method as 'GET',
        headers: call.headers,
        body: call.body,
      },
      exchange,
    );
  }
}

type Route = Extract<ReturnType<Router['route']>, { mode: 'reverse' | 'forward' }>;
