import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { Agent, ProxyAgent, request } from 'undici';

/**
 * The soak's backends and clients: JSON tools, an OpenAI-style LLM (JSON and SSE), an MCP
 * server, a WebSocket echo and a TCP echo behind opaque CONNECT tunnels. One kind of client
 * call per function; each resolves when its exchange ended, however it ended.
 */

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-soak',
  object: 'chat.completion',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'The weather is fine.' }, finish_reason: 'stop' },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
});
const TOOL = JSON.stringify({
  result: { items: [1, 2, 3], text: 'a tool answer', nested: { ok: true, n: 42 } },
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', () => resolve(text));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  if (req.url?.startsWith('/v1/') && body.includes('"stream":true')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 8 && !res.destroyed; i++) {
      res.write(
        `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"w${i} "}}]}\n\n`,
      );
      await new Promise((r) => setTimeout(r, 5));
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  if (req.url?.startsWith('/v1/')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(COMPLETION);
    return;
  }
  if (req.url === '/mcp') {
    const id = /"id":\s*(\d+)/.exec(body)?.[1] ?? '1';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"sunny, 21 C"}]}}`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(TOOL);
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) =>
  createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');

/** Echoes each (small, masked) client frame back unmasked; closes on a close frame. */
function wsEcho(req: IncomingMessage, socket: Socket): void {
  socket.on('error', () => socket.destroy());
  // As WebSocket servers do (e.g. the ws package): a client's FIN closes the connection.
  socket.on('end', () => socket.end());
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
  );
  socket.on('data', (d: Buffer) => {
    if (d.length < 6) return;
    const opcode = d[0]! & 0x0f;
    const len = d[1]! & 0x7f;
    const payload = Buffer.from(d.subarray(6, 6 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= d[2 + (i % 4)]!;
    socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
    if (opcode === 0x8) socket.end();
  });
}

export interface Backends {
  http: Server;
  tcp: NetServer;
  httpPort: number;
  tcpPort: number;
  close(): Promise<void>;
}

export async function startBackends(): Promise<Backends> {
  const http = createServer((req, res) => void handle(req, res));
  http.on('upgrade', wsEcho);
  http.keepAliveTimeout = 10_000;
  const tcp = createNetServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  return {
    http,
    tcp,
    httpPort: (http.address() as AddressInfo).port,
    tcpPort: (tcp.address() as AddressInfo).port,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

export interface Clients {
  direct: Agent;
  proxy: ProxyAgent;
  close(): Promise<void>;
}

export function createClients(faultgateUrl: string): Clients {
  const timeouts = { headersTimeout: 5000, bodyTimeout: 5000 };
  const direct = new Agent({ ...timeouts, connections: 64 });
  const proxy = new ProxyAgent({ uri: faultgateUrl, ...timeouts });
  return {
    direct,
    proxy,
    close: async () => {
      await Promise.allSettled([direct.destroy(), proxy.destroy()]);
    },
  };
}

/** One HTTP exchange; false when it failed on the wire (reset, timeout, broken body). */
async function call(
  url: string,
  dispatcher: Agent | ProxyAgent,
  method: 'GET' | 'POST',
  body?: string,
  headers: Record<string, string> = {},
): Promise<boolean> {
  try {
    const res = await request(url, {
      dispatcher,
      method,
      headers: { 'x-agent-id': 'soak', ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body } : {}),
    });
    await res.body.text();
    return true;
  } catch {
    return false;
  }
}

export type Kind = 'json' | 'llm-json' | 'llm-sse' | 'mcp' | 'connect-http' | 'tunnel' | 'websocket';

/**
 * What one call does, by kind; `http` kinds are counted by faultgate_requests_total: every HTTP
 * request, and each opaque tunnel as one exchange (connection-level faults, issue 9). WebSocket
 * upgrades are not counted.
 */
export const MIX: readonly { kind: Kind; weight: number; http: boolean }[] = [
  { kind: 'json', weight: 35, http: true },
  { kind: 'llm-json', weight: 15, http: true },
  { kind: 'llm-sse', weight: 15, http: true },
  { kind: 'mcp', weight: 15, http: true },
  { kind: 'connect-http', weight: 10, http: true },
  { kind: 'tunnel', weight: 5, http: true },
  { kind: 'websocket', weight: 5, http: false },
];

/** Raw socket to faultgate with a bound: resolves on close or after `ms`. */
function rawSession(
  port: number,
  script: (s: Socket, done: () => void) => void,
  ms = 5000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let ok = false;
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(ok);
    });
    s.on('connect', () =>
      script(s, () => {
        ok = true;
        s.destroy();
      }),
    );
  });
}

/** Opaque tunnel: CONNECT, 64 bytes that are neither HTTP nor TLS-looking HTTP, echoed back. */
function tunnel(port: number, tcpPort: number): Promise<boolean> {
  const payload = Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), randomBytes(61)]);
  return rawSession(port, (s, done) => {
    let buf = Buffer.alloc(0);
    s.write(`CONNECT 127.0.0.1:${tcpPort} HTTP/1.1\r\nhost: 127.0.0.1:${tcpPort}\r\n\r\n`);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const head = buf.indexOf('\r\n\r\n');
      if (head !== -1 && !s.writableEnded && buf.length === head + 4) s.write(payload);
      if (head !== -1 && buf.length - head - 4 >= payload.length) done();
    });
  });
}

function websocket(port: number): Promise<boolean> {
  const key = randomBytes(16).toString('base64');
  const text = Buffer.from('soak-ping');
  const mask = randomBytes(4);
  const masked = Buffer.from(text.map((b, i) => b ^ mask[i % 4]!));
  return rawSession(port, (s, done) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    s.write(
      `GET /ws HTTP/1.1\r\nhost: soak\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\nx-agent-id: soak\r\n\r\n`,
    );
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const head = buf.indexOf('\r\n\r\n');
        if (head === -1) return;
        upgraded = true;
        buf = buf.subarray(head + 4);
        s.write(Buffer.concat([Buffer.from([0x81, 0x80 | text.length]), mask, masked]));
      }
      if (buf.length >= 2 + text.length) done();
    });
  });
}

let rpcId = 0;

/** Runs one call of `kind`; resolves true when it completed on the wire. */
export function runOne(kind: Kind, fgUrl: string, fgPort: number, b: Backends, c: Clients): Promise<boolean> {
  switch (kind) {
    case 'json':
      return call(`${fgUrl}/tool/search?q=${rpcId++ % 50}`, c.direct, 'GET');
    case 'llm-json':
      return call(
        `${fgUrl}/v1/chat/completions`,
        c.direct,
        'POST',
        '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
      );
    case 'llm-sse':
      return call(
        `${fgUrl}/v1/chat/completions`,
        c.direct,
        'POST',
        '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}',
      );
    case 'mcp':
      return call(
        `${fgUrl}/mcp`,
        c.direct,
        'POST',
        `{"jsonrpc":"2.0","id":${rpcId++},"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}`,
      );
    case 'connect-http':
      return call(`http://127.0.0.1:${b.httpPort}/tool/tunnelled`, c.proxy, 'GET');
    case 'tunnel':
      return tunnel(fgPort, b.tcpPort);
    case 'websocket':
      return websocket(fgPort);
  }
}
