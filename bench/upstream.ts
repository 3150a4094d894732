import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMain, parseFlags } from './harness.js';

/**
 * The bench upstream: the backend every benchmark ends at.
 *   GET  /bytes/SIZE (or /?size=SIZE)  a fixed JSON body of exactly SIZE bytes (`k`/`m` suffixes ok)
 *   POST /echo (any path)              echoes the request body back, streamed
 *   GET  /sse?events=50&duration_ms=1000
 *     OpenAI-style `data: {chat.completion.chunk}` events, the first at once and the rest spread
 *     over duration_ms, then `data: [DONE]`. Every event carries `t`, the upstream's
 *     `process.hrtime` in ns when it was written: CLOCK_MONOTONIC is shared by every process on a
 *     Linux machine, so a client in another process can measure each event's delivery delay.
 * It does as little as it can per request (bodies are built once per size and cached) so that
 * it is never the bottleneck when it is measured directly.
 */

const bodies = new Map<number, Buffer>();

export function parseSize(text: string): number {
  const m = /^(\d+)([kKmM]?)(?:i?[bB])?$/.exec(text);
  if (!m) return Number.NaN;
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

/** A JSON document of exactly `size` bytes (a tool answer is usually JSON), or x's below 16 bytes. */
function body(size: number): Buffer {
  let buf = bodies.get(size);
  if (!buf) {
    const head = '{"data":"';
    const tail = '"}';
    buf =
      size < head.length + tail.length
        ? Buffer.alloc(size, 'x')
        : Buffer.from(head + 'x'.repeat(size - head.length - tail.length) + tail);
    bodies.set(size, buf);
  }
  return buf;
}

function chunk(i: number, content: string): string {
  const t = process.hrtime.bigint();
  return `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}],"i":${i},"t":${t}}\n\n`;
}

async function sse(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const events = Math.max(1, Number(url.searchParams.get('events') ?? 50));
  const durationMs = Math.max(0, Number(url.searchParams.get('duration_ms') ?? 1000));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let gone = false;
  res.on('close', () => {
    gone = true;
  });
  const start = performance.now();
  const step = events > 1 ? durationMs / (events - 1) : 0;
  for (let i = 0; i < events && !gone; i++) {
    // Scheduled against the stream's start so timer drift does not stretch the stream.
    const wait = start + i * step - performance.now();
    if (wait > 0) await sleep(wait);
    if (!gone) res.write(chunk(i, i === 0 ? 'Hello' : ' tok'));
  }
  if (!gone) res.end('data: [DONE]\n\n');
  req.resume();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://upstream');
  if (req.method === 'POST' || req.method === 'PUT') {
    const headers: Record<string, string> = {
      'content-type': req.headers['content-type'] ?? 'application/octet-stream',
    };
    if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
    res.writeHead(200, headers);
    pipeline(req, res, () => {});
    return;
  }
  if (url.pathname === '/sse' || url.pathname.startsWith('/sse/') || url.pathname.endsWith('/stream')) {
    void sse(req, res, url);
    return;
  }
  const m = /^\/bytes\/([^/]+)$/.exec(url.pathname);
  const size = parseSize(m ? m[1]! : (url.searchParams.get('size') ?? '1024'));
  if (!Number.isFinite(size) || size > 1024 * 1024 * 1024) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad size\n');
    return;
  }
  const buf = body(size);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

export function startUpstream(port = 0, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handle);
  // Bench load generators open thousands of requests per connection; never cap that.
  server.maxRequestsPerSocket = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: p } = server.address() as AddressInfo;
      resolve({ server, url: `http://${host}:${p}` });
    });
  });
}

if (isMain(import.meta.url)) {
  const flags = parseFlags({ port: '0', host: '127.0.0.1' });
  const { url } = await startUpstream(Number(flags.port), flags.host);
  process.stdout.write(`upstream listening on ${url}\n`);
  process.on('SIGTERM', () => process.exit(0));
}
