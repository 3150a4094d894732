import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { startUpstream, type TestServer } from './index.js';

/**
 * A raw TCP client for exact request bytes (absolute-form, CONNECT, WebSocket handshakes):
 * reads are buffered and every wait is bounded. Destroyed when the test finishes.
 */
export class WireClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  /** True once the peer closed (or the socket failed). */
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    const socket = connect({ port, host });
    onTestFinished(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    return new WireClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async until<T>(take: () => T | undefined, what: string, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  /** Reads a response head (status line and headers); leaves what follows in the buffer. */
  async readHead(ms = 5000): Promise<RawHead> {
    const raw = await this.until(
      () => {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end === -1) return undefined;
        const head = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
        return head;
      },
      'a response head',
      ms,
    );
    return parseHead(raw);
  }

  /** Reads exactly `n` bytes. */
  readBytes(n: number, ms = 5000): Promise<Buffer> {
    return this.until(
      () => {
        if (this.buf.length < n) return undefined;
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      },
      `${n} bytes`,
      ms,
    );
  }

  /** Reads one whole response: a head and a chunked, `content-length` or read-to-close body. */
  async readResponse(ms = 5000): Promise<RawResponse> {
    const head = await this.readHead(ms);
    let body: Buffer;
    if (head.headers['transfer-encoding']?.toLowerCase().includes('chunked'))
      body = await this.readChunked(ms);
    else if (head.headers['content-length'] !== undefined) {
      const length = Number(head.headers['content-length']);
      body = length > 0 ? await this.readBytes(length, ms) : Buffer.alloc(0);
    } else if (head.status === 204 || head.status === 304 || head.status < 200) body = Buffer.alloc(0);
    else {
      await this.waitClosed(ms);
      body = this.buf;
      this.buf = Buffer.alloc(0);
    }
    return { ...head, body };
  }

  /** Reads a chunked body up to and including its last chunk and (empty) trailer section. */
  private async readChunked(ms: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) {
      const sizeLine = await this.readLine(ms);
      const size = Number.parseInt(sizeLine.split(';')[0]!, 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(sizeLine)}`);
      if (size === 0) {
        while ((await this.readLine(ms)) !== '') {} // trailers
        return Buffer.concat(chunks);
      }
      chunks.push(await this.readBytes(size, ms));
      await this.readLine(ms);
    }
    throw new Error('too many chunks');
  }

  private readLine(ms: number): Promise<string> {
    return this.until(
      () => {
        const end = this.buf.indexOf('\r\n');
        if (end === -1) return undefined;
        const line = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 2);
        return line;
      },
      'a line',
      ms,
    );
  }

  /** Resolves once the peer has closed the connection. */
  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the connection to close');
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }
}

export interface RawHead {
  status: number;
  statusLine: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

export interface RawResponse extends RawHead {
  body: Buffer;
}

function parseHead(raw: string): RawHead {
  const [statusLine = '', ...lines] = raw.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers };
}

/** Opens a raw connection, sends `request` and reads one whole response. */
export async function rawRequest(port: number, request: string): Promise<RawResponse> {
  const client = await WireClient.connect(port);
  client.write(request);
  return client.readResponse();
}

// --- WebSocket (RFC 6455), just enough for an echo test -------------------------------------

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function wsAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** One frame: FIN set, `opcode`, optionally masked (clients must mask, servers must not). */
export function encodeFrame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const header: number[] = [0x80 | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) header.push(maskBit | len);
  else if (len < 65536) header.push(maskBit | 126, len >> 8, len & 0xff);
  else throw new Error('test frames stay under 64 KiB');
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([Buffer.from(header), mask, body]);
}

export interface Frame {
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes one frame from the front of `buf`; undefined when it is not complete yet. */
export function decodeFrame(buf: Buffer): { frame: Frame; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskAt + (i % 4)]!;
  return { frame: { opcode, masked, payload }, size: offset + len };
}

export interface WsEchoServer extends TestServer {
  /** Handshake requests the upstream received: url and headers. */
  handshakes: { url: string; headers: IncomingHttpHeaders }[];
  /** Client frames the upstream saw, unmasked, with whether they were masked on the wire. */
  frames: Frame[];
}

/**
 * A WebSocket echo upstream on node:http's `upgrade` event, frames handled by hand: it echoes
 * text and binary frames unmasked, answers a close frame with a close frame. Plain requests get 426.
 */
export async function startWsEchoUpstream(): Promise<WsEchoServer> {
  const handshakes: WsEchoServer['handshakes'] = [];
  const frames: Frame[] = [];
  const server: Server = createServer();
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    handshakes.push({ url: req.url ?? '', headers: req.headers });
    socket.on('error', () => socket.destroy());
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`,
    );
    let buf: Buffer = Buffer.from(head);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let decoded = decodeFrame(buf); decoded; decoded = decodeFrame(buf)) {
        buf = buf.subarray(decoded.size);
        const { frame } = decoded;
        frames.push(frame);
        if (frame.opcode === 0x8) {
          socket.end(encodeFrame(0x8, frame.payload, false));
          return;
        }
        if (frame.opcode === 0x1 || frame.opcode === 0x2)
          socket.write(encodeFrame(frame.opcode, frame.payload, false));
      }
    };
    socket.on('data', onData);
    if (head.length > 0) onData(Buffer.alloc(0));
  });
  const up = await startUpstream((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only');
  }, server);
  return { ...up, handshakes, frames };
}

/**
 * Client side of a WebSocket handshake on an already connected WireClient: sends a GET with
 * `target` (origin-form or absolute-form), checks the 101 and `Sec-WebSocket-Accept`.
 */
export async function wsHandshake(
  client: WireClient,
  target: string,
  host: string,
  extraHeaders: Record<string, string> = {},
): Promise<RawHead> {
  const key = randomBytes(16).toString('base64');
  const extra = Object.entries(extraHeaders)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  client.write(
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
  const head = await client.readHead();
  if (head.status === 101 && head.headers['sec-websocket-accept'] !== wsAccept(key)) {
    throw new Error(`bad Sec-WebSocket-Accept: ${head.headers['sec-websocket-accept']}`);
  }
  return head;
}

/** Sends one masked text frame and reads the upstream's echo frame. */
export async function wsEcho(client: WireClient, text: string): Promise<Frame> {
  client.write(encodeFrame(0x1, Buffer.from(text, 'utf8'), true));
  const start = await client.readBytes(2);
  let len = start[1]! & 0x7f;
  let ext: Buffer = Buffer.alloc(0);
  if (len === 126) {
    ext = await client.readBytes(2);
    len = ext.readUInt16BE(0);
  }
  const masked = (start[1]! & 0x80) !== 0;
  const mask = masked ? await client.readBytes(4) : Buffer.alloc(0);
  const payload = len > 0 ? await client.readBytes(len) : Buffer.alloc(0);
  const decoded = decodeFrame(Buffer.concat([start, ext, mask, payload]));
  if (!decoded) throw new Error('incomplete echo frame');
  return decoded.frame;
}

/** Closing handshake: sends a masked close frame (1000), expects the close echo and the end of the connection. */
export async function wsClose(client: WireClient): Promise<Frame> {
  const code = Buffer.alloc(2);
  code.writeUInt16BE(1000);
  client.write(encodeFrame(0x8, code, true));
  const start = await client.readBytes(2);
  const len = start[1]! & 0x7f;
  const rest = await client.readBytes(len);
  const decoded = decodeFrame(Buffer.concat([start, rest]));
  if (!decoded) throw new Error('incomplete close frame');
  await client.waitClosed();
  return decoded.frame;
}

// --- metrics -------------------------------------------------------------------------------

/** Parses `{a="x",b="y"}` label sets (values with escaped quotes included). */
function labelsOf(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of key.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/**
 * The sum of every series of `name` whose labels include `labels` (a subset match), from
 * `scrape()`'s map; 0 when none exists.
 */
export function metricSum(
  metrics: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    const brace = key.indexOf('{');
    const series = brace === -1 ? key : key.slice(0, brace);
    if (series !== name) continue;
    const have = brace === -1 ? {} : labelsOf(key.slice(brace));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += value;
  }
  return sum;
}
