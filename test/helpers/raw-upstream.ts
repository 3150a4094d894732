import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

/** One request as a strict HTTP/1.1 parser (this file's) framed it on the upstream's socket. */
export interface SeenRequest {
  /** Which upstream connection (0, 1, ...) carried it: reuse shows as repeats. */
  connection: number;
  method: string;
  path: string;
  headers: [string, string][];
  body: Buffer;
}

export interface RawUpstream {
  port: number;
  url: string;
  requests: SeenRequest[];
  /** Framing a strict parser refuses (both CL and TE, repeated CL, obs-fold, bad chunk): any is a desync risk. */
  violations: string[];
  /** Every byte each connection received, for the record. */
  bytes: Buffer[];
  server: Server;
}

class Violation extends Error {}

/** Parses one request from the front of `buf`; undefined when more bytes are needed. */
function parseOne(buf: Buffer): { req: Omit<SeenRequest, 'connection'>; size: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [line = '', ...fields] = buf.toString('latin1', 0, end).split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(line);
  if (!m) throw new Violation(`request line ${JSON.stringify(line)}`);
  const headers: [string, string][] = [];
  for (const f of fields) {
    if (/^[ \t]/.test(f)) throw new Violation(`obs-fold ${JSON.stringify(f)}`);
    const colon = f.indexOf(':');
    if (colon <= 0 || /[\s]/.test(f.slice(0, colon))) throw new Violation(`header ${JSON.stringify(f)}`);
    headers.push([f.slice(0, colon).toLowerCase(), f.slice(colon + 1).trim()]);
  }
  const cl = headers.filter(([n]) => n === 'content-length');
  const te = headers.filter(([n]) => n === 'transfer-encoding');
  if (cl.length > 1) throw new Violation('repeated content-length');
  if (cl.length && te.length) throw new Violation('content-length with transfer-encoding');
  if (te.length > 1 || (te.length === 1 && te[0]![1] !== 'chunked'))
    throw new Violation(`transfer-encoding ${JSON.stringify(te.map((t) => t[1]))}`);
  let at = end + 4;
  let body: Buffer;
  if (te.length) {
    const chunks: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return undefined;
      const sizeText = buf.toString('latin1', at, eol);
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Violation(`chunk size ${JSON.stringify(sizeText)}`);
      const size = Number.parseInt(sizeText, 16);
      at = eol + 2;
      if (size === 0) {
        if (buf.length < at + 2) return undefined;
        if (buf.toString('latin1', at, at + 2) !== '\r\n') throw new Violation('trailers');
        at += 2;
        break;
      }
      if (buf.length < at + size + 2) return undefined;
      chunks.push(buf.subarray(at, at + size));
      at += size + 2;
    }
    body = Buffer.concat(chunks);
  } else {
    const length = cl.length ? cl[0]![1] : '0';
    if (!/^\d+$/.test(length)) throw new Violation(`content-length ${JSON.stringify(length)}`);
    if (buf.length < at + Number(length)) return undefined;
    body = buf.subarray(at, at + Number(length));
    at += Number(length);
  }
  return { req: { method: m[1]!, path: m[2]!, headers, body }, size: at };
}

/**
 * A TCP upstream with its own strict HTTP/1.1 parser: it records every request boundary it
 * sees and answers each with 200, `x-echo: 1` and `{"path": ...}`. `respond` may answer instead.
 */
export async function startRawUpstream(
  respond?: (req: SeenRequest, socket: Socket) => boolean,
): Promise<RawUpstream> {
  const requests: SeenRequest[] = [];
  const violations: string[] = [];
  const bytes: Buffer[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const connection = connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    bytes[connection] = buf;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      bytes[connection] = Buffer.concat([bytes[connection]!, d]);
      try {
        for (let one = parseOne(buf); one; one = parseOne(buf)) {
          buf = buf.subarray(one.size);
          const req = { ...one.req, connection };
          requests.push(req);
          if (respond?.(req, socket)) continue;
          const body = JSON.stringify({ path: req.path });
          socket.write(
            `HTTP/1.1 200 OK\r\nx-echo: 1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
          );
        }
      } catch (err) {
        if (!(err instanceof Violation)) throw err;
        violations.push(err.message);
        socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port, url: `http://127.0.0.1:${port}`, requests, violations, bytes, server };
}
