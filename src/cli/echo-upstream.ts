/**
 * The tiny upstream `faultgate start` serves for the bundled example config, so a newcomer's
 * first request gets a real answer (with a visible fault) without anything else running. It
 * answers every request with JSON describing it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const MAX_ECHO_BYTES = 64 * 1024;

export interface EchoUpstream {
  url: string;
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      if (body.length < MAX_ECHO_BYTES) body += d.slice(0, MAX_ECHO_BYTES - body.length);
    });
    req.on('end', () => {
      const answer = JSON.stringify({
        message: "hello from faultgate's built-in echo upstream",
        method: req.method,
        path: req.url,
        agent: req.headers['x-agent-id'] ?? null,
        body: body || null,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
