import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.js';
import { refuseSocket } from '../errors.js';
import { listenOn } from '../net.js';
import { handleConnect } from './connect.js';
import type { ProxyEnv, ProxyState } from './context.js';
import { RequestFlow } from './request-flow.js';
import { compileListener, type ListenerRouting } from './route.js';
import { handleUpgrade } from './upgrade.js';
import { refuseBadFraming, wasRefused } from './wire-checks.js';

/** While draining, idle keep-alive connections are closed this often (they turn idle as responses end). */
const DRAIN_SWEEP_MS = 50;

/** One data-plane listener: reverse, forward (absolute-form), CONNECT and WebSocket upgrades. */
export class ProxyListener {
  readonly server: Server;
  /** The flow of the current routing; a reload swaps it whole, never changes it. */
  private flow: RequestFlow;
  /** CONNECT and upgrade sockets of this listener, which the HTTP server no longer tracks. */
  private readonly detached = new Set<Socket>();
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly env: ProxyEnv,
    config: ListenerConfig,
    state: ProxyState = env.state(),
  ) {
    this.flow = new RequestFlow(env, compileListener(state, config));
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
      handleConnect(env, this.flow.routing, this.server, req, socket as Socket, head);
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.detach(socket as Socket);
      handleUpgrade(env, this.flow.routing, req, socket as Socket, head);
    });
  }

  get config(): ListenerConfig {
    return this.flow.routing.config;
  }

  /**
   * A reload that kept this listener (same `listen`): new requests route with the new state and
   * listener settings; requests in flight finish with the routing they started with.
   */
  update(routing: ListenerRouting): void {
    this.flow = new RequestFlow(this.env, routing);
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
    this.dropConnections();
    await closed;
  }

  /** Destroys every connection now: the end of a drain. */
  dropConnections(): void {
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
    if (err.code === 'HPE_HEADER_OVERFLOW') refuseSocket(socket, 'FAULTGATE_ERR_HEADERS_TOO_LARGE');
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') refuseSocket(socket, 'FAULTGATE_ERR_CLIENT_TIMEOUT');
    else refuseSocket(socket, 'FAULTGATE_ERR_BAD_REQUEST', err.message);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (refuseBadFraming(req, res)) return;
    if (this.env.overload && !this.env.overload.admit(res)) return;
    // A request on a kept-alive connection while draining is served, then its connection closes.
    if (this.draining) res.shouldKeepAlive = false;
    this.flow.serve(req, res);
  }
}
