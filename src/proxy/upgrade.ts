import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import { refuseSocket } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { ProxyEnv } from './context.js';
import { type ListenerRouting, pathOnly } from './route.js';

/** http-proxy-3 carries WebSocket upgrades: handshake, then bytes both ways (connection faults only in v1). */
export function createWsProxy(logger: Logger): ProxyServer {
  const proxy = createProxyServer({ ws: true, xfwd: true });
  proxy.on('error', (err, _req, socket) => {
    logger.warn({ err: err.message }, 'websocket upstream failure');
    (socket as Socket | undefined)?.destroy?.();
  });
  return proxy;
}

/** Strips faultgate's own and proxy-only headers before the handshake goes upstream. */
function cleanHeaders(req: IncomingMessage): void {
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-faultgate-') || name === 'proxy-authorization' || name === 'proxy-connection')
      delete req.headers[name];
  }
}

/**
 * A WebSocket upgrade: routed and matched to a tool like a plain request (the path without its
 * query), with the routing the listener had when the upgrade arrived, then handed to http-proxy-3.
 */
export function handleUpgrade(
  env: ProxyEnv,
  routing: ListenerRouting,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  socket.on('error', () => socket.destroy());
  // Detached from the HTTP server like a CONNECT socket: shutdown must be able to cut it.
  env.tunnels.add(socket);
  socket.once('close', () => env.tunnels.delete(socket));
  const { router, state } = routing;
  const route = router.route(req);
  if (route.mode === 'denied') {
    refuseSocket(socket, route.code, route.detail);
    return;
  }
  let target = route.mode === 'forward' ? route.target : router.upstream;
  if (route.mode === 'reverse') {
    const tool = routing.reverseIndex.match(
      {
        method: req.method ?? 'GET',
        hostname: route.hostname,
        port: route.port,
        path: pathOnly(route.path),
        headers: req.headers,
      },
      null,
      false,
    );
    if (tool && typeof tool !== 'symbol') target = state.toolTargets[tool.index] ?? target;
  }
  if (!target) {
    refuseSocket(socket, 'FAULTGATE_ERR_NO_UPSTREAM', 'no upstream for this WebSocket upgrade');
    return;
  }
  cleanHeaders(req);
  req.url = route.path;
  try {
    env.ws.ws(req, socket, head, {
      target: target.origin + target.basePath,
      // Host names the target, except inside a tunnel, where the client's Host is what it asked for.
      changeOrigin: !(route.mode === 'forward' && route.tunnel),
    });
  } catch (err) {
    env.logger.warn({ err: (err as Error).message }, 'websocket upgrade refused');
    refuseSocket(socket, 'FAULTGATE_ERR_BAD_REQUEST', 'invalid WebSocket upgrade request');
  }
}
