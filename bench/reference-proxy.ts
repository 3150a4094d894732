import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dispatcher, Pool } from 'undici';
import { isMain, parseFlags } from './harness.js';

/**
 * The reference of the end-to-end benchmarks: the simplest honest pass-through reverse proxy on
 * node:http and an undici Pool, with no matching, no metrics and no faults. It uses undici's
 * raw `dispatch` handler API (as faultgate does), streams both ways with backpressure, copies
 * status and headers minus hop-by-hop ones and cancels the upstream request when the client
 * leaves. (`pool.stream()` is shorter but measured 30-40% slower at 256 KiB here, mostly in GC:
 * a reference that slow would flatter any proxy compared with it.) `connections` caps the pool
 * like `upstream.max_connections_per_origin`: undefined means no cap; 256 shows long-lived SSE
 * streams queueing behind the cap.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders, drop: string[] = []): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name) && !drop.includes(name)) {
      out[name] = value;
    }
  }
  return out;
}

export function startReferenceProxy(opts: {
  upstream: string;
  port?: number;
  connections?: number;
}): Promise<{ server: Server; url: string; pool: Pool }> {
  const pool = new Pool(opts.upstream, { connections: opts.connections ?? null });
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    let controller: Dispatcher.DispatchController | undefined;
    res.on('close', () => {
      if (!res.writableFinished) controller?.abort(new Error('client closed the connection'));
    });
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const options = {
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      // undici sets Host from the origin when none is given.
      headers: endToEnd(req.headers, ['host']) as Record<string, string>,
      body: hasBody ? req : null,
    };
    pool.dispatch(options, {
      onRequestStart: (c) => {
        controller = c;
      },
      onResponseStart: (_c, status, headers) => {
        res.writeHead(status, endToEnd(headers));
      },
      onResponseData: (c, chunk) => {
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd: () => {
        res.end();
      },
      onResponseError: (_c, err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
        else res.destroy(err);
      },
    });
  });
  server.maxRequestsPerSocket = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, pool, url: `http://127.0.0.1:${port}` });
    });
  });
}

if (isMain(import.meta.url)) {
  const flags = parseFlags({ port: '0', upstream: '', connections: '0' });
  if (!flags.upstream)
    throw new Error('usage: reference-proxy --upstream http://host:port [--port P] [--connections N]');
  const connections = Number(flags.connections) || undefined;
  const { url } = await startReferenceProxy({
    upstream: flags.upstream,
    port: Number(flags.port),
    connections,
  });
  process.stdout.write(
    `reference proxy listening on ${url} -> ${flags.upstream} (pool cap: ${connections ?? 'none'})\n`,
  );
  process.on('SIGTERM', () => process.exit(0));
}
