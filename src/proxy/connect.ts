import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { refuseSocket } from '../errors.js';
import { splitHost } from '../identity/index.js';
import type { ProxyEnv } from './context.js';
import { intercepts, interceptTls } from './intercept.js';
import { type ListenerRouting, rememberTunnel } from './route.js';
import { openTunnel } from './tunnel-faults.js';

const TLS_HANDSHAKE = 0x16;
/** `GET /`, `POST /`, ... : an HTTP/1 request line starts with an upper-case token and a space. */
const HTTP_REQUEST_LINE = /^[A-Z]{3,10} /;

/**
 * `CONNECT host:port`: checked against allow_hosts, then the first bytes decide. Plain HTTP
 * (undici's ProxyAgent tunnels even `http://` targets) is handed back to the HTTP server, so it
 * gets identity and faults; TLS is piped to the target.
 */
export function handleConnect(
  env: ProxyEnv,
  routing: ListenerRouting,
  server: Server,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  socket.on('error', () => socket.destroy());
  const { router, state } = routing;
  if (!router.listener.forward) {
    refuseSocket(
      socket,
      'FAULTGATE_ERR_FORWARD_DISABLED',
      `listener "${router.listener.name}" has forward: false`,
    );
    return;
  }
  const authority = req.url ?? '';
  const { hostname, port } = splitHost(authority);
  // A hostname, an IPv4 address or a bracketed IPv6 literal; nothing that a URL parser could
  // read differently (`/`, `?`, `@`) from what allow_hosts checked.
  const validHost = /^[a-z0-9.-]+$/.test(hostname) || /^\[[0-9a-f:.]+\]$/.test(hostname);
  if (!validHost || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    refuseSocket(socket, 'FAULTGATE_ERR_BAD_REQUEST', 'CONNECT needs host:port');
    return;
  }
  if (!router.allow.allows(hostname, port)) {
    env.logger.info({ target: authority }, 'CONNECT denied: not in allow_hosts');
    refuseSocket(
      socket,
      'FAULTGATE_ERR_FORWARD_DENIED',
      `${authority} is not in allow_hosts of listener "${router.listener.name}"`,
    );
    return;
  }
  env.tunnels.add(socket);
  socket.once('close', () => env.tunnels.delete(socket));
  // A tunnel is outside the HTTP server's timeouts: bound how long it may sit idle (also while
  // faultgate waits for its first bytes). Served-as-HTTP tunnels get the server's own timeout.
  const idle = state.config.limits.client_idle_timeout_ms;
  if (idle > 0) socket.setTimeout(idle, () => socket.destroy());
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');

  const decide = (first: Buffer) => {
    if (first[0] !== TLS_HANDSHAKE && HTTP_REQUEST_LINE.test(first.toString('latin1', 0, 11))) {
      rememberTunnel(socket, {
        origin: `http://${authority}`,
        host: authority,
        hostname,
        port,
        proxyAuthorization: req.headers['proxy-authorization'],
      });
      socket.setTimeout(0); // the HTTP server sets its own
      socket.unshift(first);
      server.emit('connection', socket);
      // The socket was paused to peek at the first bytes; the new HTTP parser only reads a flowing one.
      socket.resume();
      return;
    }
    const bare = hostname.replace(/^\[|\]$/g, '');
    // Hook (issue 9): TLS on an intercepting listener is terminated and served as HTTP.
    if (first[0] === TLS_HANDSHAKE && intercepts(router.listener, hostname, port)) {
      const tunnel = {
        host: authority,
        hostname,
        port,
        proxyAuthorization: req.headers['proxy-authorization'],
      };
      interceptTls(env, state, server, socket, first, tunnel, bare, (name) =>
        router.allow.allows(name, port),
      );
      return;
    }
    // Hook (issue 9): opaque tunnels get connection-level faults, metrics and tracking.
    openTunnel(env, state, req, socket, first, hostname, port);
  };
  if (head.length > 0) decide(head);
  else {
    // The server socket is half-open capable: a client that leaves before sending a byte must not leave it open.
    const onEnd = () => socket.destroy();
    socket.once('end', onEnd);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.off('end', onEnd);
      decide(chunk);
    });
  }
}
